"""Safety triage: every red-flag rule in one place, asked by the engine before anything else.

The scan reads the whole message, sentence by sentence, against the red-flag patterns of
intents.yaml; a negation that governs a sign cancels it. Signs of several tiers give the
highest tier (emergency, then urgent, then the article's see-a-professional signs). Once a
red flag has come up, it sticks: later questions about carrying on, self-treatment, causes,
fixes, what the article does not cover, or asking for the guided check get its guidance
again until the conversation is reset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from ._compose import Composer
from ._config import EMERGENCY, PROFESSIONAL, TIER_KINDS, Config, RedFlag, near_spans
from ._lexicon import Lexicon
from ._model import State
from ._text import ANALYSIS_LIMIT, SENTENCE, words
from ._understanding import Reading

_ELLIPSIS = re.compile(r"\.{2,}")  # "my leg just... gave out": one sentence
_NEGATION_WINDOW = 30  # characters before a sign that a negation may stand in
_PERSON_WINDOW = 200  # characters before a sign read for whose history it is
CORRECTION_LIMIT = 20_000  # characters checked for misspelled key words (the patterns see everything)
WINDOW, WINDOW_OVERLAP = 2000, 400  # a sentence longer than WINDOW is read in overlapping windows
GENERAL = "red_flag.general"
RED_FLAG_BUDGET = 600  # characters: a red-flag reply is read at once, action first
Voice = Literal["lead", "why", "impersonal"]  # how a sign was told: a tier's lead of that name, if it has one


@dataclass(frozen=True)
class Scan:
    """Red-flag topics found, in intents.yaml order, and the spans of signs that were negated."""

    flags: tuple[str, ...]
    negated: tuple[tuple[int, int], ...]
    asked: tuple[str, ...] = ()  # red flags only asked about ("when should I see a physio?"), not reported

    def without_negated(self, text: str) -> str:
        """`text` with negated signs blanked out, so 'no numbness' does not read as numbness."""
        for start, end in sorted(self.negated, reverse=True):
            if start < len(text):
                text = text[:start] + " " * (min(end, len(text)) - start) + text[end:]
        return text


@dataclass(frozen=True)
class Triage:
    """A red-flag decision: the flags behind it, highest tier first; `sticky` when raised earlier."""

    flags: tuple[str, ...]
    sticky: bool = False
    asked: bool = False  # a question about the warning signs in general, not a sign: not remembered
    named: tuple[str, ...] = ()  # the signs the sign model read, in neutral words (else the flags' own wording)

    @property
    def topic(self) -> str:
        return self.flags[0]


@dataclass(frozen=True)
class Screening:
    """What the first look at a message found: a triage (if any), the scan and spelling corrections."""

    triage: Triage | None
    scan: Scan
    corrections: list[str]


def scan(text: str, config: Config) -> Scan:
    """Look for every red flag's signs in normalised `text`."""
    negated: list[tuple[int, int]] = []
    text = _ELLIPSIS.sub(lambda m: "," + " " * (len(m.group()) - 1), text)
    sentences = _pieces(text)
    found = [flag.topic for flag in config.red_flags
             if _found(flag, flag.patterns, sentences, config, negated) | _found_near(flag, sentences, config, negated)]
    for flag in config.red_flags:  # signs that count only next to other signs ("fell" with a numb leg)
        if flag.topic not in found and flag.with_flags and not set(flag.needs).isdisjoint(found) \
                and _found(flag, flag.with_flags, sentences, config, negated):
            found.append(flag.topic)
    asked = tuple(flag.topic for flag in config.red_flags
                  if flag.topic not in found and flag.asks and _found(flag, flag.asks, sentences, config, []))
    return Scan(tuple(f.topic for f in config.red_flags if f.topic in found), tuple(negated), asked)


@dataclass(frozen=True)
class _Piece:
    """Where to read: a sentence (at `offset` in the message), from `start` to `end` within it."""

    offset: int
    sentence: str
    start: int
    end: int


def _pieces(text: str) -> list[_Piece]:
    """The sentences; a very long one in overlapping windows. Patterns read a window with the
    whole sentence around it (a negation just before a window still counts). A window seen
    before is read once (a message repeating itself is no slower), except where routing reads."""
    pieces, seen = [], set()
    for match in SENTENCE.finditer(text):
        sentence, offset = match.group(), match.start()
        starts = (range(0, max(1, len(sentence) - WINDOW_OVERLAP), WINDOW - WINDOW_OVERLAP) if len(sentence) > WINDOW
                  else (0,))
        for start in starts:
            end = min(len(sentence), start + WINDOW)
            window = sentence[start:end]
            if window in seen and offset + start > ANALYSIS_LIMIT:
                continue
            seen.add(window)
            pieces.append(_Piece(offset, sentence, start, end))
    return pieces


def _found(flag: RedFlag, patterns: tuple[re.Pattern[str], ...], pieces: list[_Piece], config: Config,
           negated: list[tuple[int, int]]) -> bool:
    hit = False
    for piece in pieces:
        extra = flag.with_pain if patterns is flag.patterns and flag.with_pain and _in_pain(piece, config) else ()
        for pattern in patterns + extra:
            for match in pattern.finditer(piece.sentence, piece.start, piece.end):
                if hit and piece.offset + match.start() > ANALYSIS_LIMIT:
                    break  # found; negated signs past what routing reads need not be blanked
                hit = _judge(flag, piece, match.start(), match.end(), config, negated) or hit
    return hit


def _found_near(flag: RedFlag, pieces: list[_Piece], config: Config, negated: list[tuple[int, int]]) -> bool:
    """Whether a two-part sign ("numb" near "foot") is said, in either order, and not negated."""
    hit = False
    for piece in pieces:
        for rule in flag.near:
            for start, end in near_spans(rule, piece.sentence, piece.start, piece.end):
                if hit and piece.offset + start > ANALYSIS_LIMIT:
                    break
                hit = _judge(flag, piece, start, end, config, negated) or hit
    return hit


def _judge(flag: RedFlag, piece: _Piece, start: int, end: int, config: Config, negated: list[tuple[int, int]]) -> bool:
    """Whether a sign found at start..end counts: not someone else's (where that matters), not negated."""
    sentence = piece.sentence
    if flag.mine_only and _someone_else(sentence[max(0, end - _PERSON_WINDOW): end], config):
        return False
    if _negated(sentence[max(0, start - _NEGATION_WINDOW): start], config) \
            and not config.negation_undone.match(sentence, end, end + _NEGATION_WINDOW + 10):
        negated.append((piece.offset + start, piece.offset + end))
        return False
    return True


def _in_pain(piece: _Piece, config: Config) -> bool:
    """Whether the sentence says something hurts ("doesn't bother me" does not)."""
    sentence = piece.sentence
    return any(not _negated(sentence[max(0, m.start() - _NEGATION_WINDOW): m.start()], config)
               for m in config.pain.finditer(sentence, piece.start, piece.end))


def _someone_else(before: str, config: Config) -> bool:
    """Whether a history is another person's: one is named after the speaker's last "I" or "my"."""
    other = [m.start() for m in config.safety.someone_else.finditer(before)]
    mine = [m.start() for m in config.safety.me.finditer(before)]
    return bool(other) and (not mine or other[-1] > mine[-1])


def _negated(before: str, config: Config) -> bool:
    """'no numbness', 'don't have any tingling' - but not 'I don't know why my leg tingles',
    'nothing helps and my leg goes numb' or 'no pain, just tingling': the negation must
    govern the sign (at most two words between them, no 'but' or 'just')."""
    before = before.rsplit(",", 1)[-1]
    negations = list(config.negation.finditer(before))
    if not negations:
        return False
    between = before[negations[-1].end():]
    return len(between.split()) <= config.routing.negation_gap and not config.negation_breakers.search(between)


class Safety:
    """Decides when a message gets red-flag guidance, of which tier, and writes that guidance."""

    def __init__(self, config: Config, lexicon: Lexicon, composer: Composer) -> None:
        self.config, self.lexicon, self.composer = config, lexicon, composer
        self.tier_of = {flag.topic: flag.tier for flag in config.red_flags}
        self.order = {flag.topic: n for n, flag in enumerate(config.red_flags)}
        self.tiers = TIER_KINDS  # most urgent first
        self.sections = {c.id: c for c in composer.chunks}
        self.signs = {sign.name: sign for sign in config.signs}
        self.mine_only = {flag.topic for flag in config.red_flags if flag.mine_only}

    def ranked(self, flags: tuple[str, ...]) -> tuple[str, ...]:
        """Distinct flags, highest tier first, then in intents.yaml order."""
        return tuple(sorted(dict.fromkeys(flags), key=lambda f: (self.tiers.index(self.tier(f)), self.order.get(f, 0))))

    def tier(self, flag: str) -> str:
        return self.tier_of.get(flag, PROFESSIONAL)

    def screen(self, said: str, state: State) -> Screening:
        """The patterns over the whole message; a short reply may complete a sign begun last turn."""
        head = said[:CORRECTION_LIMIT]
        fixes = self.lexicon.fixes(head)
        corrections = list(dict.fromkeys(fixes.values()))
        fixed = self.lexicon.corrected(head, fixes)
        found = scan(said + ("\n" + fixed if fixes else ""), self.config)  # "tinglng", "losing wieght" read right too
        flags = found.flags
        rules = self.config.safety
        if len(words(said)) <= self.config.routing.short_reply and not rules.body_part.search(said):
            for part in state.body_parts:  # "my foot feels off", then "like it's asleep"; "both legs", then
                # "numb and heavy" (a sign already found here may still be graver with the limb)
                flags += scan(f"my {part} {said}", self.config).flags
        if flags:
            return Screening(self.combine(flags, state), found, corrections)
        if found.asked:  # a question about warning signs: the guidance, or the earlier sign's reminder with it
            flags = self.ranked(state.red_flags + found.asked)
            return Screening(Triage(flags, sticky=bool(state.red_flags), asked=True), found, corrections)
        return Screening(None, found, corrections)

    def from_reading(self, reading: Reading, state: State) -> Triage | None:
        """The red flag of every sign the sign model is sure of, if any: routing.sign_sure, or for a sign
        needing emergency care (never to be missed) routing.sign_sure_emergency."""
        signs = self.signs
        hits = tuple(hit for hit in reading.signs if hit.score >= self._sure(hit.sign)
                     and (signs[hit.sign].topic not in self.mine_only or not _someone_else(hit.piece, self.config)))
        if not hits:
            return None
        triage = self.combine(tuple(signs[hit.sign].topic for hit in hits), state)
        return replace(triage, named=tuple(dict.fromkeys(signs[hit.sign].says for hit in hits)))

    def with_reading(self, triage: Triage, reading: Reading, state: State) -> Triage:
        """A rule's triage with the signs of its own tier that the sign model is sure of named too ("weakness in
        a leg or foot" next to a duration the rule read): what was said is named, and the tier stays the rule's."""
        if triage.sticky or triage.asked:
            return triage
        tier = self.tier(triage.topic)
        rank, sure = self.tiers.index, self.config.routing.sign_graver
        graver = tuple(self.signs[hit.sign].topic for hit in reading.signs
                       if hit.score >= sure and rank(self.tier(self.signs[hit.sign].topic)) < rank(tier))
        if graver:  # "zero strength in both legs" beside a foot drop the rules read: emergency, not urgent
            return self.combine(triage.flags + graver, state)
        learned = self.from_reading(reading, state)
        if learned is None:
            return triage
        extra = tuple(f for f in learned.flags if self.tier(f) == tier and f not in triage.flags)
        if not extra:
            return triage
        ruled = self._signs([f for f in triage.flags if f != GENERAL and f not in learned.flags])
        named = tuple(dict.fromkeys((*learned.named, *ruled))) if tier == PROFESSIONAL else ()
        return Triage(self.ranked(triage.flags + extra), named=named)

    def unsure(self, reading: Reading) -> tuple[str, ...]:
        """Signs the sign model finds likely but not sure (from routing.sign_maybe to the sign's threshold)."""
        return tuple(hit.sign for hit in reading.signs if hit.score < self._sure(hit.sign))

    def _sure(self, sign: str) -> float:
        routing = self.config.routing
        return routing.sign_sure_emergency if self.tier(self.signs[sign].topic) == EMERGENCY else routing.sign_sure

    def sanitize(self, state: State) -> State:
        """Forget red-flag ids that intents.yaml no longer has (a state from an older version)."""
        known = tuple(f for f in state.red_flags if f in self.tier_of)
        return state if known == state.red_flags else replace(state, red_flags=known)

    def earlier(self, state: State) -> Triage:
        """The conversation's earlier red flags, as a reminder."""
        return Triage(self.ranked(state.red_flags), sticky=True)

    def combine(self, flags: tuple[str, ...], state: State) -> Triage:
        """A new sign in a conversation that already had a graver one gets the graver tier's reminder."""
        new, earlier = self.ranked(flags), self.ranked(state.red_flags)
        if earlier and self.tiers.index(self.tier(earlier[0])) < self.tiers.index(self.tier(new[0])):
            return Triage(self.ranked(earlier + new), sticky=True)
        return Triage(new)

    def body_parts(self, said: str) -> tuple[str, ...]:
        """The limbs a message names, kept so the next message can finish a sign ("my foot feels off")."""
        return tuple(dict.fromkeys(m.group() for m in self.config.safety.limb.finditer(said)))[:3]

    def after_routing(self, topic: str, classifier_flag: tuple[str, float] | None, said: str, state: State,
                      asks_more: bool = False) -> Triage | None:
        """The classifier's own red flag, or an earlier red flag that this message should get again.
        `asks_more`: the message asks for the guided check, the picture or something the article does not
        cover. After a sign, every reply repeats its advice except the few topics in `safety.answered_after`
        (none after an emergency sign)."""
        routing = self.config.routing
        if classifier_flag and classifier_flag[0] == GENERAL and classifier_flag[1] >= routing.asked_classifier \
                and not state.red_flags:
            return Triage((GENERAL,), asked=True)
        if classifier_flag and classifier_flag[1] >= routing.red_flag_classifier:
            return self.combine((classifier_flag[0],), state)
        if not state.red_flags:
            return None
        rules = self.config.safety
        carries_on = bool(rules.carry_on.search(said) or rules.self_treat.search(said))
        emergency = self.tier(self.ranked(state.red_flags)[0]) == EMERGENCY  # nothing else matters now
        answered = topic in rules.answered_after and (not emergency or self.config.intent_of(topic) == "greeting")
        return self.earlier(state) if carries_on or asks_more or not answered else None

    def remember(self, state: State, triage: Triage) -> tuple[str, ...]:
        """The conversation's red flags after this one, highest tier first."""
        return state.red_flags if triage.asked else self.ranked(state.red_flags + triage.flags)

    def guidance(self, triage: Triage, voice: Voice = "lead") -> str:
        """The reply, under RED_FLAG_BUDGET characters: what to do first (by tier), then the signs it
        rests on and the source. Emergency and urgent tiers say nothing else. `voice` names the tier's
        lead for how the sign was told, when the tier has one: `why` (the message asks what causes the
        sign, which the article does not say), `impersonal` (a sign asked about in general, "what makes
        legs give out?", so not "what you describe"), or the plain `lead`."""
        tier = self.config.tiers[self.tier(triage.topic)]
        signs = [f for f in triage.flags if f != GENERAL]
        if not signs:  # "when should I worry?": every tier's signs, the gravest first
            asked = [self.config.tiers[name]["asked"] for name in self.tiers]
            return "\n\n".join((*asked, self.composer.source(self.sections[GENERAL])))
        named = list(triage.named) if triage.named and not triage.sticky else self._signs(signs)
        described = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        key = "reminder" if triage.sticky else voice if voice in tier else "lead"
        lead = tier[key].format(signs=described, Signs=described[:1].upper() + described[1:])
        top = [f for f in signs if self.tier(f) == self.tier(triage.topic)]
        if self.tier(triage.topic) != PROFESSIONAL:
            return "\n\n".join((lead, self.composer.source(self.sections[top[0]])))
        if triage.asked:  # asked about the warning signs after a sign: the article's list of them
            answer, source = self.composer.by_topic[GENERAL][0], self.composer.source(self.sections[GENERAL])
            listed = "\n\n".join((lead, answer.text, source))
            return listed if len(listed) < RED_FLAG_BUDGET else "\n\n".join((lead, source))
        source = self.composer.source(self.sections[GENERAL])
        bullets: list[str] = []
        for flag in (f for f in top if f in self.sections):
            bullet = f"• {self.sections[flag].heading}: {self.sections[flag].text}"
            if len("\n\n".join((lead, "\n".join([*bullets, bullet]), source))) >= RED_FLAG_BUDGET:
                break
            bullets.append(bullet)
        return "\n\n".join(filter(None, (lead, "\n".join(bullets), source)))

    def thanks(self, state: State) -> str | None:
        """A thank-you reply that keeps the earlier red flag's advice in view, if there was one."""
        return self.config.tiers[self.tier(self.ranked(state.red_flags)[0])].get("thanks") if state.red_flags else None

    def sources(self, triage: Triage) -> tuple[str, ...]:
        """The sections a red-flag reply rests on, most important first."""
        if self.tier(triage.topic) != PROFESSIONAL:
            return tuple(f for f in triage.flags if self.tier(f) == self.tier(triage.topic))
        return triage.flags + (GENERAL,)

    def suggestions(self, triage: Triage) -> tuple[str, ...]:
        """Follow-ups after a red-flag reply (never form content once a sign was found)."""
        tier = self.config.tiers[self.tier(triage.topic)]
        if triage.asked:  # the warning signs were just listed: not "what are the warning signs?" again
            return () if triage.sticky else tuple(tier["general_suggestions"])
        return tuple(tier["suggestions"])

    def _signs(self, flags: list[str]) -> list[str]:
        described = {flag.topic: flag.signs for flag in self.config.red_flags}
        return [described.get(f, f) for f in flags]
