"""What the article does not answer: programming, comparisons, medicines, other body parts...

A question about hip thrusts is not automatically answerable. Each kind under `not_covered:`
in intents.yaml recognises one kind of request the corpus has no answer for. A message whose
every request is of such a kind is declined with a plain sentence saying what is not covered
(and, where the kind names a related section, the gist of what the article does say). When
another sentence of the message asks something the article answers, that part is answered,
with the sentence about what is not covered in front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._config import Config, Gap, near_spans
from ._text import words

# Sentences, and clauses joined by "and"/"also"/"but" before a new question ("..., and where should...").
_CLAUSE = re.compile(r"(?:[^.?!;\n,]|,(?! ?(?:and|also|plus|but|or) "
                     r"(?:how|what|where|why|when|which|should|can|could|is|are|do|does|will)\b))+[.?!;\n,]*")

# A question pointing back at something named before it ("...the abductor machine. Does this thing work?").
_POINTS_BACK = re.compile(r"\b(this|that|these|those) (thing|machine|contraption|device|exercise|one)s?\b|\bit\b")


@dataclass(frozen=True)
class Uncovered:
    """The first kind of request the article does not answer, and the other questions asked."""

    gap: Gap
    rest: str  # the clauses that ask something else, if any (a covered part to answer)


class Coverage:
    """Finds requests the corpus cannot answer."""

    def __init__(self, config: Config, domain_words: frozenset[str]) -> None:
        self.gaps = tuple(gap for gap in config.not_covered if not gap.partly)
        self.partly = tuple(gap for gap in config.not_covered if gap.partly)
        self.asking = (config.question, *config.cues["cause"], *config.cues["fix"])
        self.domain_words = domain_words
        self.subject = re.compile(f"{config.off_topic['unless_exercise'].pattern}|\\b(back|spine|lumbar)\\b")
        self.pain = config.pain
        self.short_message = config.routing.short_message  # words: a message this short is a request as a whole

    def find(self, said: str) -> Uncovered | None:
        """The first not-covered request in normalised `said`, if any: in a clause that asks
        something, or anywhere in a short message ("hip thrust sets and reps")."""
        found: Gap | None = None
        told: Gap | None = None  # a not-covered subject named outside a question ("...the abductor machine.")
        other_questions = []
        short = (len(words(said)) <= self.short_message
                 and not self.pain.search(said))  # "back pain when I go to failure" tells
        for match in _CLAUSE.finditer(said):
            clause = match.group().strip()
            asks = any(p.search(clause) for p in self.asking)
            gap = next((g for g in self.gaps if _asks(g, clause)), None)
            if not short and not asks:
                told = told or (gap if gap is not None and gap.subject else None)  # "I do hip thrusts 3x a week" tells
                continue
            if gap is not None:
                found = found or gap
            elif asks:
                other_questions.append(clause)
        if found is None and told is not None and other_questions and all(
                self._about_told(q) or not self.domain_words.intersection(words(q)) for q in other_questions):
            return Uncovered(told, "")  # "...quadriceps tendon pain. Has this happened to anyone else?"
        return Uncovered(found, " ".join(other_questions).strip()) if found else None

    def caveat(self, said: str) -> Gap | None:
        """The kind of request the causes and fixes only partly fit (a floor bridge rather than the
        machine), if the message is one: its `say` opens the answer, its `leaves_out` are left off."""
        return next((gap for gap in self.partly if _asks(gap, said)), None)

    def _about_told(self, question: str) -> bool:
        """Whether a question points back at what was named before it, naming neither the hip thrust nor the back."""
        return bool(_POINTS_BACK.search(question)) and not self.subject.search(question)


def _asks(gap: Gap, sentence: str) -> bool:
    if gap.unless and gap.unless.search(sentence):
        return False
    return (any(p.search(sentence) for p in gap.patterns)
            or any(next(near_spans(rule, sentence), None) for rule in gap.near))
