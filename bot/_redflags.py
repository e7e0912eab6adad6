"""Red-flag detection: patterns from intents.yaml, checked sentence by sentence."""

from __future__ import annotations

import re

from ._config import Config

_SENTENCE = re.compile(r"[^.?!;\n]+")
_NEGATION_WINDOW = 30  # characters before a sign that a negation may stand in


def red_flags(text: str, config: Config) -> tuple[str, ...]:
    """Red-flag topics that normalised `text` shows signs of, in intents.yaml order."""
    found: list[str] = []
    sentences = [m.group() for m in _SENTENCE.finditer(text)]
    for flag in config.red_flags:
        if any(_signals(flag.patterns, s, config) for s in sentences) or any(
            _signals(flag.with_pain, s, config) for s in sentences if config.pain.search(s)
        ):
            found.append(flag.topic)
    return tuple(found)


def _signals(patterns: tuple[re.Pattern[str], ...], sentence: str, config: Config) -> bool:
    """Whether any pattern matches `sentence` without a negation just before it."""
    for pattern in patterns:
        for match in pattern.finditer(sentence):
            if not _negated(sentence[max(0, match.start() - _NEGATION_WINDOW): match.start()], config):
                return True
    return False


def _negated(before: str, config: Config) -> bool:
    """'no numbness', 'not shooting' - but not 'no idea why, but my leg is numb'."""
    before = before.rsplit(",", 1)[-1]
    negations = list(config.negation.finditer(before))
    return bool(negations) and not config.negation_breakers.search(before[negations[-1].end():])
