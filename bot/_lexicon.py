"""Slang and misspelling handling: add the article's words for what a message says."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from ._text import WORD, words

MIN_FUZZY_LENGTH = 5
FUZZY_CUTOFF = 85.0
MIN_SWAP_LENGTH = 6
SWAP_CUTOFF = 0.83  # one transposition in a six-letter word


class Lexicon:
    """Maps slang phrases to canonical article terms and corrects misspelled key words."""

    def __init__(self, entries: Mapping[str, Iterable[str]], known_words: Iterable[str],
                 spellings: Iterable[str] = ()) -> None:
        """`spellings` are further words worth correcting to (the red-flag vocabulary)."""
        self._canonical: dict[str, str] = {}
        for canonical, variants in entries.items():
            for variant in (canonical, *variants):
                self._canonical.setdefault(" ".join(words(variant.lower())), canonical)
        alternatives = "|".join(map(re.escape, sorted(self._canonical, key=len, reverse=True)))
        self._pattern = re.compile(rf"\b(?:{alternatives})\b" if alternatives else "(?!)")
        self._key_terms = sorted({w for phrase in self._canonical for w in phrase.split() if len(w) >= MIN_FUZZY_LENGTH}
                                 | {w for w in spellings if len(w) >= MIN_FUZZY_LENGTH})
        self._known = frozenset(known_words) | frozenset(self._key_terms)

    def corrections(self, text: str) -> list[str]:
        """Key terms that unknown words of `text` are probably misspellings of."""
        return list(dict.fromkeys(self.fixes(text).values()))

    def corrected(self, text: str, fixes: Mapping[str, str]) -> str:
        """`text` with its misspelled key words (`fixes` found them) replaced ("losing wieght" -> "losing weight")."""
        return WORD.sub(lambda m: fixes.get(m.group(), m.group()), text) if fixes else text

    def fixes(self, text: str) -> dict[str, str]:
        """Each probably misspelled word of `text` and the key term it stands for."""
        fixed = {}
        for token in dict.fromkeys(words(text)):
            if len(token) < MIN_FUZZY_LENGTH or token in self._known or not token.isalpha():
                continue
            match = process.extractOne(token, self._key_terms, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
            if match is None and len(token) >= MIN_SWAP_LENGTH:  # "wieght": two letters swapped
                match = process.extractOne(token, self._key_terms, scorer=DamerauLevenshtein.normalized_similarity,
                                           score_cutoff=SWAP_CUTOFF)
            if match and match[0][0] == token[0]:  # typos rarely change the first letter
                fixed[token] = match[0]
        return fixed

    def expand(self, text: str, corrections: list[str] | None = None) -> str:
        """`text` followed by its spelling corrections and the canonical terms it mentions."""
        corrected = " ".join(self.corrections(text) if corrections is None else corrections)
        flat = " ".join(words(text)) + " " + corrected
        canon = dict.fromkeys(self._canonical[m] for m in self._pattern.findall(flat))
        return " ".join(part for part in (text, corrected, *canon) if part)
