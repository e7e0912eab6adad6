"""Simpler answerers for `hipbot eval --compare`: what each part of the bot buys."""

from __future__ import annotations

from rapidfuzz import fuzz, process

from ._engine import Engine
from ._model import Answer, Reply, Source, State
from ._safety import Triage


def bare_tfidf(engine: Engine) -> Answer:
    """Plain scikit-learn TF-IDF (word 1-2-grams): the top chunk's kind is the intent, its text the reply."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    chunks = engine.chunks
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    matrix = vectorizer.fit_transform([f"{c.heading}. {c.text}" for c in chunks])

    def answer(text: str, state: State | None = None) -> Reply:
        scores = (matrix @ vectorizer.transform([text]).T).toarray().ravel()
        best = int(scores.argmax())
        if scores[best] <= 0:
            return Reply("out_of_scope", "out_of_scope", engine.config.replies["out_of_scope"])
        chunk = chunks[best]
        return Reply(engine.config.intent_of(chunk.topic), chunk.topic, chunk.text,
                     (Source(chunk.id, chunk.heading, float(scores[best])),), float(scores[best]))

    return answer


def fuzzy_examples(engine: Engine) -> Answer:
    """rapidfuzz against the example phrases only: the closest example's topic decides."""
    phrases = [(phrase, topic) for topic, examples in engine.config.examples.items() for phrase in examples]
    choices = [p for p, _ in phrases]

    def answer(text: str, state: State | None = None) -> Reply:
        _, score, position = process.extractOne(text.lower(), choices, scorer=fuzz.WRatio) or ("", 0.0, 0)
        topic = phrases[position][1]
        if topic in engine.composer.by_topic:
            body = (engine.safety.guidance(Triage((topic,))) if topic.startswith("red_flag")
                    else engine.composer.article(topic))
        else:
            body = engine.config.replies.get(topic, engine.config.replies["out_of_scope"])
        return Reply(engine.config.intent_of(topic), topic, body, (), score / 100)

    return answer
