"""The pure core: `answer(text, state) -> Reply`, no I/O after start-up."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from ._check import SCREEN, GuidedCheck, load_check
from ._compose import BUDGET, Composer, cut
from ._config import EMERGENCY, WRONG_PREFIX, Config, load_config
from ._corpus import describe_sources, load_corpus
from ._coverage import Coverage, Uncovered
from ._encoder import Encoder, OnnxEncoder
from ._errors import DataError
from ._explain import Explanation
from ._index import NONE, Index, build_index, build_lock, cache_dir, content_key, load_cached, save_cached
from ._knowledge import PACKAGED, knowledge_paths
from ._lexicon import Lexicon
from ._model import ARTICLE_INTENTS, INTENTS, MAX_SHOWN, Chunk, Reply, Source, State
from ._router import Route, Router
from ._safety import GENERAL, Safety, Screening, Triage, Voice
from ._text import ANALYSIS_LIMIT, normalize, words
from ._understanding import Reader, Reading

MAX_SOURCES = 3
logger = logging.getLogger("hipbot")  # the adapters decide where this goes; message text is never logged


class Engine:
    """Corpus, intents and index loaded once; `answer` is then pure and thread-safe."""

    def __init__(self, corpus: Path, intents: Path, cache: Path | None = None, slang: bool = True,
                 check: Path | None = None, encoder: Encoder | None = None,
                 tuning: dict[str, Any] | None = None) -> None:
        """Load and check the data, then load the index from the cache or build it.

        `slang=False` drops the slang lexicon (for measuring what it buys); `check` is the
        guided check's questions (default: the project's check.yaml); `encoder` the sentence
        encoder (default: the model shipped in the package); `tuning` overrides routing settings
        (for measuring what a part buys, e.g. {"encoder_weight": 0.0}).
        """
        self.encoder = encoder or default_encoder()
        self.corpus_path, self.intents_path = corpus, intents
        self.chunks = load_corpus(corpus)
        self.config = load_config(intents)
        if tuning:
            self.config = replace(self.config, routing=replace(self.config.routing, **tuning))
        check_path = check or knowledge_paths().check
        self.check = GuidedCheck(load_check(check_path))
        _check_topics(self.config, self.chunks, str(intents))
        self.composer = Composer(self.config, self.chunks)
        for topic in self.composer.ungrounded_gists():
            raise DataError(str(intents), f"topics.{topic}.gist", "uses words its section does not: quote the article")
        _check_causes(self.check, self.chunks, str(check_path))
        slang_terms = self.config.lexicon if slang else {}
        key = content_key(self.chunks, intents.read_text(encoding="utf-8") + f"\nslang={slang}",
                          self.encoder.fingerprint)
        folder = cache if cache is not None else cache_dir()
        cached = load_cached(key, folder) or load_cached(key, PACKAGED)  # the wheel ships one, built for its files
        known = cached.known_words if cached else _known_words(self.config, self.chunks)
        self.lexicon = Lexicon(slang_terms, known, self.config.safety.spellings)
        self.index = cached or self._build_index(key, folder, known)
        _answer_on_one_core()
        self.reader = Reader(self.encoder, self.index, self.config.routing.sign_maybe)
        self.router = Router(self.config, self.lexicon, self.index, tuple(c.topic for c in self.chunks), self.reader)
        self.safety = Safety(self.config, self.lexicon, self.composer)
        self.coverage = Coverage(self.config, self.index.domain_words)
        self.about = describe_sources(self.chunks) + "\n\n" + self.config.copy.disclaimer

    def _build_index(self, key: str, folder: Path, known: frozenset[str]) -> Index:
        documents = [self._chunk_text(c) for c in self.chunks]
        domain = " ".join(documents + [normalize(title) for title in {c.document for c in self.chunks}] + [
            normalize(f"{canonical} {' '.join(variants)}") for canonical, variants in self.config.lexicon.items()
        ] + [normalize(flag.signs) for flag in self.config.red_flags])
        with build_lock(key, folder), _blas_as_started():  # processes starting together build once
            index = load_cached(key, folder)
            if index is None:
                logger.warning("Building the answer index for this knowledge (first run only; a few seconds).")
                samples = self._samples()
                index = build_index(documents, [(expanded, topic) for _, expanded, topic in samples], domain, known,
                                    self.encoder, [text for text, _, _ in samples], self._sign_samples())
                save_cached(key, folder, index)
        return index

    def answer(self, text: str, state: State | None = None) -> Reply:
        """Route `text` in the conversation `state` and compose the grounded reply; safety first.
        The reply never repeats the previous one word for word."""
        return self._decide(text, state)[0]

    def explain(self, text: str, state: State | None = None) -> Explanation:
        """Why the core answered `text` as it did: the record of the same pass that composed the reply."""
        reply, trace, state = self._decide(text, state)
        screening = trace.screening
        found = screening.triage.flags if screening.triage and not screening.triage.sticky else ()
        route = trace.route
        similarities = route.similarities if route is not None and route.similarities is not None else \
            self.index.similarities(self.index.vectorize(self.lexicon.expand(trace.said, screening.corrections)))
        sections = tuple(Source(self.chunks[i].id, self.chunks[i].heading, round(float(similarities[i]), 3))
                         for i in np.argsort(-similarities)[:MAX_SOURCES] if similarities[i] > 0)
        signs = tuple((hit.sign, round(hit.score, 3), hit.piece[:80]) for hit in trace.reading.signs) \
            if trace.reading else ()
        return Explanation(
            reply.intent, reply.topic, reply.confidence, found,
            sticky=reply.intent == "red_flag" and not found and bool(state.red_flags),
            classifier_flag=route.classifier_flag if route else None, sections=sections,
            followup=route.followup if route else False,
            not_covered=trace.uncovered.gap.kind if trace.uncovered else None,
            closest=route.closest if route and reply.intent != "red_flag" else (), signs=signs,
        )

    def _decide(self, text: str, state: State | None) -> tuple[Reply, _Trace, State]:
        """The reply, the record of how it was reached, and the (sanitised) state it answered in."""
        state = self.safety.sanitize(self.check.sanitize(state or State()))
        said = normalize(text if isinstance(text, str) else str(text))  # once: everything below reads this
        trace = _Trace(said, self.safety.screen(said, state))
        return self._unrepeated(self._answer(trace, state), state.last_reply), trace, state

    def _answer(self, trace: _Trace, state: State) -> Reply:
        said, screening = trace.said, trace.screening
        state = replace(state, body_parts=self.safety.body_parts(said))
        reading = trace.reading = self._read(said, screening)
        if screening.triage:
            return self._red_flag_reply(self.safety.with_reading(screening.triage, reading, state), state, None, said)
        if state.check_step is not None:
            return self._check_turn(trace, state, reading)
        learned = self.safety.from_reading(reading, state)
        if learned:
            return self._red_flag_reply(learned, state, None, said)
        reply = self._routed(trace, state, reading)
        if reply.intent in (*ARTICLE_INTENTS, "out_of_scope") and not state.red_flags \
                and (self.safety.unsure(reading) or reply.intent == "out_of_scope" and self._own_back_pain(said)):
            text = cut(f"{reply.text}\n\n{self.config.replies['watch_signs']}", BUDGET + 300)
            return replace(reply, text=text)
        return reply

    def _own_back_pain(self, said: str) -> bool:
        """Whether the message tells of pain in the writer's own back (read only for a declined question)."""
        rules = self.config.safety
        return bool(self.config.pain.search(said) and rules.me.search(said) and rules.back.search(said))

    def _read(self, said: str, screening: Screening) -> Reading:
        """The encoder's reading of the message, negated signs blanked out ("no numbness")."""
        return self.reader.read(screening.scan.without_negated(said)[:ANALYSIS_LIMIT])

    def _routed(self, trace: _Trace, state: State, reading: Reading) -> Reply:
        """The answer when no red flag decides it: routed, checked, pictured or declined."""
        said, screening = trace.said, trace.screening
        route = trace.route = self._route(said, state, screening, reading)
        wants_check = self.check.wants_to_start(said)
        wants_picture = bool(self.config.picture.trigger.search(said))
        uncovered = trace.uncovered = None if route.smalltalk else self.coverage.find(said)
        triage = self.safety.after_routing(route.topic, route.classifier_flag, said, state,
                                           asks_more=wants_check or wants_picture or uncovered is not None)
        if triage:  # before the check, the picture or a decline: none of them replaces the guidance
            return self._red_flag_reply(triage, state, route.similarities, said)
        if wants_check:
            return self.check.reply(self.check.start(state), self.composer)
        if wants_picture:
            return self._picture_reply(state)
        if self.config.copy.about.search(said):
            return self._about_reply(state)
        if uncovered:
            return self._uncovered_reply(uncovered, state, screening)
        return self._reply(route, state, said=said)

    def _unrepeated(self, reply: Reply, last: str) -> Reply:
        """`reply`, reworded when it would repeat the previous reply exactly; its state remembers it."""
        text, digest = reply.text, _digest(reply.text)
        if digest == last:
            replies = self.config.replies
            parts = text.split("\n\n")  # a red flag keeps its action first, and its source
            text = "\n\n".join((parts[0], replies["again_red_flag"], parts[-1])) if reply.intent == "red_flag" else \
                replies["again_twice" if reply.text == replies["again"] else "again"]  # not the same text again
            digest = _digest(text)
        return replace(reply, text=text, suggestions=tuple(dict.fromkeys(reply.suggestions)),
                       state=replace(reply.state, last_reply=digest))

    def _walked_list(self, route: Route, state: State, said: str) -> str:
        """Which list "what else?" walks: causes or fixes as the message says ("what else can cause it?"),
        else the list the conversation is in, else the routed topic's."""
        for intent in ("cause", "fix"):
            if any(p.search(said) for p in self.config.cues[intent]) and f"{intent}.general" in self.composer.by_topic:
                return f"{intent}.general"
        return state.topic if state.topic and self.composer.overview_of(state.topic) else route.topic

    def _about_reply(self, state: State) -> Reply:
        """The source article, its author and terms, and the other documents hipbot draws on."""
        return Reply("about", "about.source", self.about, (), 1.0, self.composer.suggestions("greeting"),
                     replace(state, turns=state.turns + 1))

    def topics(self) -> frozenset[str]:
        """Every topic a reply can carry (what a labelled set may name)."""
        intents = set(INTENTS)
        return frozenset(
            {c.topic for c in self.chunks} | intents | {"about.setup_picture", "greeting.check_cancelled"}
            | {key for key in self.config.replies if key.partition(".")[0] in intents}
            | {f"out_of_scope.{gap.kind}" for gap in self.config.not_covered}
            | {f"check.{step}" for step in (SCREEN, *(question.id for question in self.check.spec.questions))}
            | set(self.config.examples)
        )

    def _uncovered_reply(self, uncovered: Uncovered, state: State, screening: Screening) -> Reply:
        """Say what the article does not cover; answer the rest of the message if it asks something it does."""
        gap, replies = uncovered.gap, self.config.replies
        if uncovered.rest and not self.index.domain_words.isdisjoint(words(uncovered.rest)):
            rest = self.router.route(uncovered.rest, state, uncovered.rest, screening.corrections)
            if self.config.intent_of(rest.topic) in ARTICLE_INTENTS:
                return self._reply(rest, state, lead_override=f"{gap.say} {replies['covered_part']}")
        parts = [gap.say]
        sources: tuple[Source, ...] = ()
        if gap.related in self.composer.by_topic:
            parts.append(f"{replies['covered_part']} {self.composer.gist(gap.related)}")
            sources = self._sources((gap.related,), None)
        parts.append(replies["not_covered"])
        return Reply("out_of_scope", f"out_of_scope.{gap.kind}", "\n\n".join(parts), sources, 1.0,
                     self.composer.suggestions("out_of_scope"), replace(state, turns=state.turns + 1))

    def _route(self, said: str, state: State, screening: Screening, reading: Reading) -> Route:
        return self.router.route(said, state, screening.scan.without_negated(said), screening.corrections,
                                 reading.embedding)

    def _check_turn(self, trace: _Trace, state: State, reading: Reading) -> Reply:
        """A message while the guided check asks (its patterns already scanned): the sign model's or the
        classifier's red flag, then a picture request, then the answer. An offered choice is never read
        by the models as a symptom; the patterns see every message."""
        assert state.check_step is not None
        said = trace.said
        if not self.check.is_choice(said, state.check_step):
            route = trace.route = self._route(said, state, trace.screening, reading)
            triage = self.safety.from_reading(reading, state) or self.safety.after_routing(
                route.topic, route.classifier_flag, said, state)
            if triage:
                return self._red_flag_reply(triage, state, route.similarities, said)
        if self.config.picture.trigger.search(said):
            return self._picture_reply(state, self.check.choices(state.check_step))  # the check goes on after it
        step = self.check.step(said, state)
        if step.red_flag:  # "yes" to the warning-signs screen
            return self._red_flag_reply(self.safety.combine((GENERAL,), step.state), step.state, None, said)
        return self.check.reply(step, self.composer)

    def _picture_reply(self, state: State, suggestions: tuple[str, ...] | None = None) -> Reply:
        """The labelled setup picture; adapters draw it from `Reply.picture`."""
        picture = self.config.picture
        quoted = {**picture.labels, **{WRONG_PREFIX + name: spec for name, spec in picture.wrong_labels.items()}}
        labels = tuple((name, quote[0].upper() + quote[1:]) for name, (_, quote) in quoted.items())
        sections = tuple(dict.fromkeys(section for section, _ in picture.labels.values()))
        text = picture.text + "\n\n" + "\n".join(f"• {label}" for name, label in labels if name in picture.labels)
        after = replace(state, turns=state.turns + 1)
        if suggestions is None:  # follow-ups read it as the fixes' overview: "why does this happen?" works
            suggestions = self.composer.suggestions("fix")
            after = (replace(after, topic="fix.general", intent="fix") if "fix.general" in self.composer.by_topic
                     else after)
        return Reply("about", "about.setup_picture", text, self._sources(sections, None), 1.0, suggestions, after,
                     picture=labels)

    def _reply(self, route: Route, state: State, lead_override: str | None = None, said: str = "") -> Reply:
        """The answer from the article for a routed topic (or a fixed reply); `lead_override` opens it."""
        topic, intent = route.topic, self.config.intent_of(route.topic)
        suggestions = self.composer.suggestions(intent)
        walked = self._walk(route, state, said) if topic in self.composer.by_topic or state.topic else None
        if walked:
            return walked
        everything = bool(self.config.everything.search(said))
        if topic in self.composer.by_topic and not lead_override:
            specific, after = not self.composer.children(topic), replace(state, turns=state.turns + 1)
            if route.closest and route.confidence < self.config.routing.ask_below and specific:
                options = tuple(dict.fromkeys(self.composer.ask_about(t) for t in (topic, *route.closest)))
                return Reply(intent, topic, self.config.replies["clarify"], (), route.confidence, options, after)
            if state.shown and state.shown[-1] == topic and (specific or not everything):  # just answered: no loop
                partner = self.router.partner.get(topic)
                asks = [self.composer.ask_about(partner)] if partner in self.composer.by_topic else []
                asks += self.composer.suggestions_for(topic, state.shown)
                return Reply(intent, topic, self.config.replies["still_on"].format(label=self.composer.label(topic)),
                             self._sources((topic,), route.similarities), route.confidence,
                             tuple(dict.fromkeys(asks))[:3], after)
        if topic in self.composer.by_topic:
            return self._article_reply(route, state, said, lead_override, everything)
        if route.closest and intent == "out_of_scope":  # a greeting is answered as one, not with topics
            suggestions = tuple(self.composer.ask_about(t) for t in route.closest)
            text = "\n\n".join((self.config.replies[topic], self.config.replies["closest"])) if suggestions \
                else self.config.replies[topic]  # never a heading with nothing under it
        else:
            text = self.config.replies.get(topic) or self.config.replies[_REPLY_FALLBACK[intent]]
            if topic == "greeting.thanks":  # after a red flag: its advice, not "train smart"; thanks ahead
                # of a request ("any tips appreciated, thanks!"): what to tell, not "you're welcome"
                requested = not state.topic and self.router.cues(said).fix > 0
                text = self.safety.thanks(state) or (self.config.replies["thanks_ahead"] if requested else text)
        return Reply(intent, topic, text, (), route.confidence, suggestions, replace(state, turns=state.turns + 1))

    def _article_reply(self, route: Route, state: State, said: str, lead: str | None, everything: bool) -> Reply:
        """The article's passage on the routed topic: opened by `lead` or a caveat, closed by a hedge when
        unsure; both why and how asked: the topic beside its partner (the causes list, each with its fix)."""
        topic, intent = route.topic, self.config.intent_of(route.topic)
        paired = not everything and self._why_and_how(topic, said)
        if paired and intent == "fix" and self.composer.children(topic):
            topic, intent = self.router.partner[topic], "cause"  # the causes, each with its fix: a list of causes
        if route.closest:  # middling confidence: the answer, then ask whether another topic was meant
            closing = self.config.replies["hedge"]
            suggestions = (*(self.composer.ask_about(t) for t in route.closest), *self.composer.suggestions(intent)[:1])
        else:  # or, under one cause quoted for a claim, that it is one of several
            closing = self._one_of(topic, said, route)
            suggestions = self.composer.suggestions_for(topic, state.shown)
        if paired:  # its partner was just given too: not offered again
            suggestions = tuple(s for s in suggestions if s != self.composer.ask_about(self.router.partner[topic]))
        room = BUDGET - sum(len(part) + 2 for part in (lead, closing) if part)
        caveat = self.coverage.caveat(said) if intent in ("cause", "fix") else None
        left_out = caveat.leaves_out if caveat else ()
        body = self.composer.paired(topic, self.router.partner, room, left_out) if paired \
            else self.composer.article(topic, everything, room, left_out)
        opening = caveat.say if caveat else None  # over the budget: the answer keeps its room
        text = "\n\n".join(filter(None, (opening, lead, body, closing)))
        if topic in self.config.picture.offer_after and not state.red_flags:
            suggestions = (self.config.picture.suggestion, *suggestions)
        new_state = replace(state, topic=topic, intent=intent, turns=state.turns + 1, shown=_seen(state.shown, topic))
        return Reply(intent, topic, text, self._sources((topic,), route.similarities), route.confidence, suggestions,
                     new_state)

    def _one_of(self, topic: str, said: str, route: Route) -> str:
        """After one cause quoted for a claim that asks nothing ("lower back pain is all in your glutes"):
        that the article lists it as one of several, so the passage does not read as agreement."""
        overview = self.composer.overview_of(topic)
        if route.followup or overview in (None, topic) or self.config.intent_of(topic) != "cause" \
                or self.config.question.search(said) or self.router.cues(said).any:
            return ""
        return self.config.replies["one_of"].format(n=len(self.composer.children(overview)))

    def _why_and_how(self, topic: str, said: str) -> bool:
        """Whether the message asks both why and how, about a topic with a partner (a cause and its fix)."""
        asks_both = all(p.search(said) for p in self.config.both_asked)
        return asks_both and self.router.partner.get(topic) in self.composer.by_topic

    def _walk(self, route: Route, state: State, said: str) -> Reply | None:
        """"What else?" (the next cause or fix of the same list not shown yet, in the article's order), or
        an overview just shown asked for again (the unseen one closest to the message); when all have
        been shown, the list in one line. None when neither applies."""
        specific = route.topic in self.composer.by_topic and not self.composer.children(route.topic)
        more = bool(self.config.more.search(said)) and not (specific and route.topic not in state.shown)
        overview = self.composer.overview_of(self._walked_list(route, state, said) if more else route.topic)
        family = self.composer.children(overview) if overview else []
        again = bool(state.shown) and state.shown[-1] == route.topic == overview
        if not family or not (again or more) or self.config.everything.search(said):
            return None
        unseen = [t for t in family if t not in state.shown]
        if not more:  # asked again in other words: the one the message points to most, first
            order = {t: n for n, t in enumerate(route.ranking)}
            unseen.sort(key=lambda t: order.get(t, len(order)))
        assert overview is not None
        intent = self.config.intent_of(overview)
        if intent not in ("cause", "fix"):  # only the causes and the fixes are lists to walk
            return None
        if not unseen:
            labels = ", ".join(self.composer.label(t).lower() for t in family)
            text = self.config.replies["all_shown"].format(kind=self.composer.label(overview).lower(), labels=labels)
            other = "fix.general" if intent == "cause" else "cause.general"
            suggestions = tuple(self.composer.ask_about(t) for t in (other, GENERAL) if t in self.composer.by_topic)
            return Reply(intent, overview, text, (), route.confidence, suggestions,
                         replace(state, topic=overview, intent=intent, turns=state.turns + 1))
        topic = unseen[0]
        lead = self.config.replies["another"].format(label=self.composer.label(topic))
        text = "\n\n".join((lead, self.composer.article(topic)))
        partner = self.router.partner.get(topic)
        asks = [self.composer.ask_about(partner)] if partner in self.composer.by_topic else []
        asks += [s for s in self.composer.suggestions(intent) if s != self.composer.ask_about(topic)]
        suggestions = tuple(dict.fromkeys(asks))[:3]
        return Reply(intent, topic, text, self._sources((topic,), route.similarities), route.confidence, suggestions,
                     replace(state, topic=topic, intent=intent, turns=state.turns + 1, shown=_seen(state.shown, topic)))

    def _red_flag_reply(self, triage: Triage, state: State, scores: np.ndarray | None, said: str) -> Reply:
        """The guidance of the triage's tier; it ends a running check and stays in the state."""
        new_state = replace(state, topic=triage.topic, intent="red_flag", red_flags=self.safety.remember(state, triage),
                            turns=state.turns + 1, check_step=None, check_answers=(), check_retry=False)
        sources = self._sources(self.safety.sources(triage), scores)
        cues, mine = self.router.cues(said), self.config.safety.me.search(said)
        voice: Voice = "why" if cues.cause > cues.fix else "lead" if mine else "impersonal"
        text = self.safety.guidance(triage, voice)
        emergency = self.safety.tier(triage.topic) == EMERGENCY  # its first line stays "get care now"
        rules = self.config.safety
        care = "in_care" if rules.in_care.search(said) else "operated" if rules.operated.search(said) else None
        if care and not (triage.asked or emergency):  # back to their own professional, or to their surgeon
            text = cut(f"{self.config.replies[care]}\n\n{text}", BUDGET + 300)
        return Reply("red_flag", triage.topic, text, sources, 1.0,
                     self.safety.suggestions(triage), new_state)

    def _sources(self, topics: tuple[str, ...], scores: np.ndarray | None) -> tuple[Source, ...]:
        """Chunks serving `topics`, best-scored first, with their retrieval similarity."""
        ranked = sorted(
            ((topics.index(c.topic), -(float(scores[i]) if scores is not None else 1.0), c)
             for i, c in enumerate(self.chunks) if c.topic in topics),
            key=lambda entry: entry[:2],
        )
        return tuple(Source(c.id, c.heading, round(-score, 3)) for _, score, c in ranked[:MAX_SOURCES])

    @staticmethod
    def _chunk_text(chunk: Chunk) -> str:
        return normalize(f"{chunk.heading}. {chunk.text}")

    def _samples(self) -> list[tuple[str, str, str]]:
        """Labelled training text: the examples plus every sentence and heading of the article, each as
        (normalised text, text with the lexicon's canonical words added, topic)."""
        texts = [(normalize(e), topic) for topic, phrases in self.config.examples.items() for e in phrases]
        for chunk in self.chunks:
            texts += [(normalize(sentence), chunk.topic)
                      for sentence in [chunk.heading, *chunk.text.replace("\n", " ").split(". ")]]
        return [(text, self.lexicon.expand(text), topic) for text, topic in texts]

    def _sign_samples(self) -> list[tuple[str, str]]:
        """What the sign model learns: each sign's examples, the red-flag examples of topics with one sign,
        and, as no sign, `not_signs`, every other example and the article's non-red-flag sentences."""
        config = self.config
        samples = [(normalize(e), sign.name) for sign in config.signs for e in sign.phrases]
        single = {}
        for sign in config.signs:
            single[sign.topic] = None if sign.topic in single else sign.name
        for topic, phrases in config.examples.items():
            label = single.get(topic) if config.intent_of(topic) == "red_flag" else NONE
            samples += [(normalize(e), label) for e in phrases if label]
        samples += [(normalize(e), NONE) for e in config.not_signs]
        samples += [(normalize(sentence), NONE) for chunk in self.chunks if chunk.kind != "red_flag"
                    for sentence in chunk.text.replace("\n", " ").split(". ")]
        return samples


@dataclass
class _Trace:
    """What one pass through the core saw, filled in as it goes: `explain` reports it as it happened."""

    said: str  # the message, normalised
    screening: Screening  # the rules' scan
    reading: Reading | None = None  # the encoder's signs and embedding (not read when a rule decided)
    route: Route | None = None  # the router's decision (not taken when a red flag decided first)
    uncovered: Uncovered | None = None  # the not-covered rule, when it fired


_REPLY_FALLBACK = {"greeting": "greeting.hello", "out_of_scope": "out_of_scope"}


def _seen(shown: tuple[str, ...], topic: str) -> tuple[str, ...]:
    """`shown` with `topic` moved to the end (the most recent), at most MAX_SHOWN long."""
    return (*(t for t in shown if t != topic), topic)[-MAX_SHOWN:]


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=6).hexdigest()


def _known_words(config: Config, chunks: tuple[Chunk, ...]) -> frozenset[str]:
    known = {w for c in chunks for w in words(normalize(c.text + " " + c.heading))}
    known.update(w for phrases in config.examples.values() for e in phrases for w in words(normalize(e)))
    return frozenset(known)


def _check_topics(config: Config, chunks: tuple[Chunk, ...], name: str) -> None:
    """Every example, pair and labelled topic must be answerable, every gist must use its section's words,
    and every picture label must quote its section."""
    served = {c.topic for c in chunks} | set(config.replies)
    for topic in config.examples:
        if topic not in served and config.intent_of(topic) not in ("greeting", "out_of_scope"):
            raise DataError(name, f"examples.{topic}", "no corpus section serves this topic and no reply is given")
    for cause, fix in config.pairs.items():
        for side in (cause, fix):
            if side not in served:
                raise DataError(name, f"pairs.{cause}", f"unknown topic {side!r}")
    for topic in config.topics:
        if topic not in served:
            raise DataError(name, f"topics.{topic}", "no corpus section serves this topic")
    texts = {c.id: c.text.lower() for c in chunks}
    for field, labels in (("labels", config.picture.labels), ("wrong_labels", config.picture.wrong_labels)):
        for label, (section, quote) in labels.items():
            if quote.lower() not in texts.get(section, ""):
                raise DataError(name, f"picture.{field}.{label}", f"quote not found in section {section!r}")


def _check_causes(check: GuidedCheck, chunks: tuple[Chunk, ...], name: str) -> None:
    """Every cause the guided check weighs must be a section of the corpus."""
    served = {c.topic for c in chunks}
    spec = check.spec
    named = [("priors", cause) for cause in spec.priors] + [("evidence", cause) for cause in spec.evidence] + [
        (f"questions.{q.id}.{c.label}", cause) for q in spec.questions for c in q.choices for cause in c.weights]
    for place, cause in named:
        if cause not in served:
            raise DataError(name, place, f"unknown cause {cause!r}")


_ENGINE_LOCK = threading.Lock()


@functools.cache
def _blas_threads_at_start() -> dict[str, int]:
    """numpy's BLAS libraries and their thread counts as the process started (before any engine answered)."""
    from threadpoolctl import ThreadpoolController

    libraries = ThreadpoolController().select(user_api="blas").info()
    return {str(lib["prefix"]): int(lib["num_threads"]) for lib in libraries}


@functools.cache
def _answer_on_one_core() -> None:
    """numpy's BLAS on one thread from the first engine on, as the encoder is: an answer's products are small
    (the largest, the warning-sign bank, takes 0.1 ms on one thread), and on a busy machine a second BLAS
    thread waits for a core (10-16 ms for that product). The products split rows between threads, never a
    sum, so their results are the same on one thread."""
    from threadpoolctl import threadpool_limits

    _blas_threads_at_start()  # noted first: index builds keep them
    threadpool_limits(1, user_api="blas")


def _blas_as_started() -> contextlib.AbstractContextManager[object]:
    """numpy's BLAS threads as the process started, for building an index: the classifiers' fits sum in
    parallel, so their weights depend on the thread count, and a build after the first engine must not
    differ from one before it."""
    from threadpoolctl import threadpool_limits

    return cast("contextlib.AbstractContextManager[object]", threadpool_limits(_blas_threads_at_start()))


@functools.cache
def default_encoder() -> Encoder:
    """The sentence encoder shipped in the package, loaded once per process."""
    return OnnxEncoder()


@functools.cache
def default_engine() -> Engine:
    """The engine over hipbot's knowledge (see `knowledge_paths`: environment, checkout or package)."""
    paths = knowledge_paths()
    with _ENGINE_LOCK:  # threads asking first share one build
        return _engine_for(paths.corpus, paths.intents, paths.check)


@functools.cache
def _engine_for(corpus: Path, intents: Path, check: Path) -> Engine:
    return Engine(corpus, intents, check=check)


def answer(text: str, state: State | None = None) -> Reply:
    """Answer one message with the default engine: the core's single entry point."""
    return default_engine().answer(text, state)
