"""Text normalisation and the feature analyzer shared by index building and querying."""

from __future__ import annotations

import re
import unicodedata

ANALYSIS_LIMIT = 2000  # characters of a message that routing and retrieval look at
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_SPACE = re.compile(r"\s+")
SENTENCE = re.compile(r"(?:[^.?!;\n]|(?<=\d)[.](?=\d))+")  # a sentence, or a part ended by ; or a line break;
# a decimal point ("38.5") does not end one
_NUMBER_UNIT = re.compile(r"(\d)([a-z])")


def normalize(text: str) -> str:
    """Lower-case, Unicode-folded, single-spaced text with straight quotes and no invisible
    format characters (zero-width joiners and spaces, direction marks, word joiners); a lone surrogate
    (from a broken JSON escape) becomes "?"."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")
    text = text.translate(_QUOTES).lower()
    return _NUMBER_UNIT.sub(r"\1 \2", _SPACE.sub(" ", text)).strip()


def words(text: str) -> list[str]:
    """The word tokens of normalised text."""
    return WORD.findall(text)


def features(text: str) -> list[str]:
    """Word 1-2-grams and in-word character 3-5-grams, the index's feature space."""
    tokens = words(text)
    grams = [f"w:{t}" for t in tokens]
    grams += [f"w:{a} {b}" for a, b in zip(tokens, tokens[1:])]
    grams += [f"c:{padded[i:i + n]}" for padded in [f" {t} " for t in tokens] for n in (3, 4, 5)
              for i in range(len(padded) - n + 1)]  # one comprehension: a third faster than a loop of them
    return grams

