"""Routing: which intent and topic a message is about, given the conversation so far."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from ._config import Config, Routing
from ._index import Index
from ._lexicon import Lexicon
from ._model import State
from ._text import ANALYSIS_LIMIT, SENTENCE, words
from ._understanding import Reader


@dataclass(frozen=True)
class Cues:
    """How many cause ('why') and fix ('how') wording cues a message has."""

    cause: int
    fix: int

    @property
    def any(self) -> bool:
        return bool(self.cause or self.fix)

    @property
    def mode(self) -> str | None:
        """The answer kind the wording asks for, if it leans one way."""
        return None if self.cause == self.fix else "cause" if self.cause > self.fix else "fix"


@dataclass(frozen=True)
class Route:
    """The routing decision for one message (red flags are the safety module's to decide)."""

    topic: str
    confidence: float
    closest: tuple[str, ...] = ()  # other likely topics, when unsure
    similarities: np.ndarray | None = None
    followup: bool = False
    smalltalk: bool = False  # a greeting recognised by its wording, not by the classifier
    classifier_flag: tuple[str, float] | None = None  # a red-flag topic the classifier ranked first, and its score
    ranking: tuple[str, ...] = ()  # answerable topics, best first (before follow-up resolution's choice)


class Router:
    """The classifier and retrieval, with cause/fix cues and follow-ups."""

    def __init__(self, config: Config, lexicon: Lexicon, index: Index, chunk_topics: tuple[str, ...],
                 reader: Reader) -> None:
        self.config, self.lexicon, self.index, self.reader = config, lexicon, index, reader
        self.chunk_topics = chunk_topics
        self.partner = dict(config.pairs)
        for cause, fix in config.pairs.items():
            self.partner.setdefault(fix, cause)

    def route(self, text: str, state: State, head: str, corrections: list[str],
              embedding: np.ndarray | None = None) -> Route:
        """Decide the topic of normalised `text`; `head` is it with negated signs blanked out, and
        `embedding` the encoder's vector of it (encoded here when not given)."""
        unreadable = _unreadable(text)
        if unreadable:
            return Route(unreadable, 1.0)
        small = self._smalltalk(text)
        if small:
            return Route(small, 1.0, smalltalk=True)
        if _mostly_unknown_words(text[:ANALYSIS_LIMIT], self.index.known_words, self.config.routing):
            return Route("out_of_scope.other_language", 1.0)  # Spanish, French...: Latin script, not English
        head = head[:ANALYSIS_LIMIT]
        vector = self.index.vectorize(self.lexicon.expand(head, corrections))
        if not len(vector[0]):
            return Route("out_of_scope.unsure", 0.0)
        if embedding is None:
            embedding = self.reader.encoder.encode([head])[0]
        scores, similarities = self._scores(vector, embedding)
        if self._off_topic(head) and "out_of_scope" in scores:
            scores["out_of_scope"] += self.config.routing.off_topic_bonus
        for topic, patterns in self.config.topic_cues.items():  # "what muscles...", "5 reasons to hip thrust"
            if topic in scores and any(p.search(head) for p in patterns):
                scores[topic] += self.config.routing.topic_cue_bonus
        cues = self.cues(head)
        followup = self._is_followup(head, scores, state) and not self._repeats_itself(scores, head, cues, state)
        best, flagged = self._best_topic(scores, head, cues, state if followup else None)
        partner = self.partner.get(best)
        confidence = min(1.0, scores[best] + (scores.get(partner, 0.0) if partner else 0.0))  # the subject's
        best = self._choose_mode(best, scores, head, cues, state if followup else None)
        intent = self.config.intent_of(best)
        in_conversation = followup or bool(state.topic and self.config.followup_breakers.search(head))  # "what else?"
        on_topic = in_conversation or not self.index.domain_words.isdisjoint(words(head + " " + " ".join(corrections)))
        if best == "out_of_scope" or confidence < self.config.routing.min_confidence or (
                intent != "greeting" and not on_topic):
            if best == "out_of_scope":
                return Route(best, confidence, followup=followup, classifier_flag=flagged)
            return Route("out_of_scope.unsure", confidence, closest=tuple(self._ranked(scores)[:3]), followup=followup,
                         classifier_flag=flagged)
        ranking = tuple(self._ranked(scores))
        closest = () if confidence >= self.config.routing.sure else tuple(
            t for t in ranking if t not in (best, self.partner.get(best)))[:2]
        return Route(best, confidence, closest=closest, similarities=similarities, followup=followup,
                     classifier_flag=flagged, ranking=ranking)

    def cues(self, text: str) -> Cues:
        """The message's why/how wording; in a story ending with a question, the question's, when it leans
        one way ("...their back hurts because their glutes don't work. How do you get them to fire?")."""
        sentences = [m for m in SENTENCE.finditer(text) if m.group().strip()]
        if len(sentences) > 1 and text[sentences[-1].end():].lstrip().startswith("?"):
            asked = self._counted_cues(sentences[-1].group())
            if asked.mode:
                return asked
        return self._counted_cues(text)

    def _counted_cues(self, text: str) -> Cues:
        return Cues(*(sum(bool(p.search(text)) for p in self.config.cues[m]) for m in ("cause", "fix")))

    def _ranked(self, scores: dict[str, float]) -> list[str]:
        """Answerable topics, best first."""
        return sorted((t for t in scores if "." in t and not t.startswith(("greeting", "out_of_scope", "red_flag"))),
                      key=scores.__getitem__, reverse=True)

    def _smalltalk(self, text: str) -> str | None:
        """'thanks, that fixed it!', 'hola :)', 'I'm back, did you miss me?': short, no pain, and no
        question about the subject (a question with none of the corpus's words is still small talk)."""
        if len(words(text)) > self.config.routing.smalltalk_words or self.config.pain.search(text):
            return None
        asks = self.config.question.search(text) or any(p.search(text) for mode in ("cause", "fix")
                                                        for p in self.config.cues[mode])
        if asks and not self.index.domain_words.isdisjoint(words(text)):
            return None
        return next((topic for topic, pattern in self.config.smalltalk.items() if pattern.search(text)), None)

    def _is_followup(self, text: str, scores: dict[str, float], state: State) -> bool:
        """Whether the message leans on the previous turn (and is not clearly small talk or off-topic)."""
        if not state.topic or self.config.followup_breakers.search(text):
            return False
        leader = max(scores, key=scores.__getitem__)
        settled = scores[leader] >= self.config.routing.settled
        if self.config.intent_of(leader) in ("greeting", "out_of_scope") and settled:
            return False
        return any(p.search(text) for p in self.config.followup)

    def _repeats_itself(self, scores: dict[str, float], text: str, cues: Cues, state: State) -> bool:
        """Whether reading the message as a follow-up would give the answer just shown again while the
        message, read on its own, points at another topic ("what about my hips?" after the bench)."""
        if not state.shown or self.config.more.search(text) or self.config.everything.search(text):
            return False
        leaning = self._choose_mode(self._best_topic(dict(scores), text, cues, state)[0], scores, text, cues, state)
        ranked = self._ranked(scores)  # the message's own best answerable topic, if it says enough to have one
        if not ranked or scores[ranked[0]] < self.config.routing.min_confidence:
            return False
        return leaning == state.shown[-1] != self._choose_mode(ranked[0], scores, text, cues, None)

    def _best_topic(self, scores: dict[str, float], text: str, cues: Cues,
                    previous: State | None) -> tuple[str, tuple[str, float] | None]:
        """The top-scoring answerable topic after follow-up resolution, and the red-flag topic
        the classifier ranked first, if it did (with its score, for the safety module)."""
        if previous is not None and previous.topic in scores and previous.intent != "red_flag":  # red flags stick apart
            partner = self.partner.get(previous.topic)
            for topic in {previous.topic, *([partner] if partner else [])}:
                scores[topic] = scores.get(topic, 0.0) + self.config.routing.followup_bonus
        leader = max(scores, key=scores.__getitem__)
        flagged = (leader, scores[leader]) if self.config.intent_of(leader) == "red_flag" else None
        best = max((t for t in scores if self.config.intent_of(t) != "red_flag"), key=scores.__getitem__)
        if previous is not None and best.endswith(".general") and previous.topic in scores \
                and not str(previous.topic).endswith(".general"):
            best = str(previous.topic)  # "how do I fix that?": the subject is the previous one
        return self._prefer_asked_mode(best, scores, text, cues), flagged

    def _scores(self, vector: tuple[np.ndarray, np.ndarray], embedding: np.ndarray
                ) -> tuple[dict[str, float], np.ndarray]:
        """Classifier probability (TF-IDF and sentence-embedding classifiers blended) plus weighted best
        chunk similarity, per topic."""
        share = self.config.routing.encoder_weight
        probabilities = (1 - share) * self.index.probabilities(vector) + share * self.reader.topic_probabilities(
            embedding)
        similarities = self.index.similarities(vector)
        scores = dict(zip(self.index.classes, probabilities.tolist()))
        weight = self.config.routing.retrieval_weight
        best_chunk: dict[str, float] = {}
        for topic, similarity in zip(self.chunk_topics, similarities.tolist()):
            best_chunk[topic] = max(best_chunk.get(topic, 0.0), similarity)
        for topic, similarity in best_chunk.items():
            scores[topic] = scores.get(topic, 0.0) + weight * similarity
        return scores, similarities

    def _off_topic(self, text: str) -> bool:
        """About another lift (hip thrust not named), pain elsewhere than the back, or a prompt injection."""
        rules = self.config.off_topic
        other_lift = rules["exercise"].search(text) and not rules["unless_exercise"].search(text)
        other_site = rules["pain_site"].search(text) and not rules["unless_pain_site"].search(text)
        return bool(other_lift or other_site or rules["instructions"].search(text))

    def _prefer_asked_mode(self, best: str, scores: dict[str, float], text: str, cues: Cues) -> str:
        """A why/how question is not answered with background ('about') when it asks why the back
        is involved, or when a cause or fix topic scores close enough; asking both why and how
        ("causes and prevention") starts with the causes."""
        mode = cues.mode or ("cause" if cues.any else None)
        if self.config.intent_of(best) != "about" or mode is None:
            return best
        rival = max((t for t in scores if self.config.intent_of(t) == mode), key=scores.__getitem__, default=None)
        routing = self.config.routing
        if rival and (self.config.back_trouble.search(text) or
                      scores[rival] >= max(routing.asked_mode_ratio * scores[best], routing.min_confidence)):
            return rival
        return best

    def _choose_mode(self, best: str, scores: dict[str, float], text: str, cues: Cues, previous: State | None) -> str:
        """Between a cause and its matching fix, the message's wording decides (why vs how).

        With no wording either way, a follow-up keeps the previous mode, and someone telling
        what happens to them ("my back hurts when...") asks for the cause; otherwise (a heading
        such as "glute activation before leg day") the classifier decides.
        """
        partner = self.partner.get(best)
        if partner is None or partner not in scores:
            return best
        if previous is None and partner.endswith(".general") and scores[best] >= self.config.routing.sure:
            return best  # "is it safe to train with my disc?": the condition's own section, not every fix
        if cues.mode:
            wanted = cues.mode
        elif not cues.any and previous is not None and previous.intent in ("cause", "fix"):
            wanted = previous.intent
        elif not cues.any and not self.config.question.search(text) and (
                self.config.pain.search(text) or self.config.safety.me.search(text)):
            wanted = "cause"  # "my back hurts when I lock out", "I blast my air out": telling asks why
        else:
            return best
        return best if self.config.intent_of(best) == wanted else partner


def _unreadable(text: str) -> str | None:
    """The fixed-reply topic for a message with nothing to route: empty, junk, another script."""
    if not text:
        return "greeting.empty"
    if not _has_words(text):
        return "out_of_scope.not_text"
    if _foreign_script(text):
        return "out_of_scope.other_language"
    return None


def _mostly_unknown_words(text: str, known: frozenset[str], routing: Routing) -> bool:
    """Three or more words (routing.language_words), most of them unknown to the corpus and examples
    (English messages, slang and typos included, stay above routing.known_share): another language."""
    tokens = [w for w in words(text) if not w.isdigit()]
    return len(tokens) >= routing.language_words and sum(w in known for w in tokens) < routing.known_share * len(tokens)


def _has_words(text: str) -> bool:
    """Letters or digits, and not binary junk (many control or unassigned characters)."""
    categories = [unicodedata.category(ch) for ch in text]
    junk = sum(c in ("Cc", "Cf", "Co", "Cn", "Cs") for c in categories)
    return junk <= 0.1 * len(categories) and any(c[0] in "LN" for c in categories)


def _foreign_script(text: str) -> bool:
    """Mostly letters outside the Latin alphabet (Cyrillic, CJK, Arabic...)."""
    letters = [ch for ch in text if ch.isalpha()]
    latin = sum(1 for ch in letters if ch.isascii() or "LATIN" in unicodedata.name(ch, ""))
    return bool(letters) and latin / len(letters) < 0.5
