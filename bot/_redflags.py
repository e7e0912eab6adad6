"""Red-flag detection: patterns from intents.yaml, checked sentence by sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._config import Config, RedFlag

_SENTENCE = re.compile(r"[^.?!;\n]+")
_NEGATION_WINDOW = 30  # characters before a sign that a negation may stand in
MAX_WORDS_BETWEEN = 2  # "don't have any tingling": a negation this close governs the sign


@dataclass(frozen=True)
class Scan:
    """Red-flag topics found, in intents.yaml order, and the spans of signs that were negated."""

    flags: tuple[str, ...]
    negated: tuple[tuple[int, int], ...]

    def without_negated(self, text: str) -> str:
        """`text` with negated signs blanked out, so 'no numbness' does not read as numbness."""
        for start, end in sorted(self.negated, reverse=True):
            text = text[:start] + " " * (end - start) + text[end:]
        return text


def scan(text: str, config: Config) -> Scan:
    """Look for every red flag's signs in normalised `text`."""
    flags: list[str] = []
    negated: list[tuple[int, int]] = []
    sentences = [(m.start(), m.group()) for m in _SENTENCE.finditer(text)]
    for flag in config.red_flags:
        if _found(flag, sentences, config, negated):
            flags.append(flag.topic)
    return Scan(tuple(flags), tuple(negated))


def _found(flag: RedFlag, sentences: list[tuple[int, str]], config: Config, negated: list[tuple[int, int]]) -> bool:
    hit = False
    for offset, sentence in sentences:
        patterns = flag.patterns + (flag.with_pain if config.pain.search(sentence) else ())
        for pattern in patterns:
            for match in pattern.finditer(sentence):
                if _negated(sentence[max(0, match.start() - _NEGATION_WINDOW): match.start()], config):
                    negated.append((offset + match.start(), offset + match.end()))
                else:
                    hit = True
    return hit


def _negated(before: str, config: Config) -> bool:
    """'no numbness', 'don't have any tingling' - but not 'I don't know why my leg tingles',
    'nothing helps and my leg goes numb' or 'no pain, just tingling': the negation must
    govern the sign (at most two words between them, no 'but' or 'just')."""
    before = before.rsplit(",", 1)[-1]
    negations = list(config.negation.finditer(before))
    if not negations:
        return False
    between = before[negations[-1].end():]
    return len(between.split()) <= MAX_WORDS_BETWEEN and not config.negation_breakers.search(between)
