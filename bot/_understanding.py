"""What the sentence encoder reads in a message: the warning signs in each sentence and clause, and
an embedding of the whole for the topic classifier. One encoder pass per message, in one batch; none
for a message too short to read for signs, which the router encodes only if it routes it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ._encoder import Encoder
from ._index import NONE, Index
from ._text import SENTENCE

_CLAUSE = re.compile(r",|\b(?:but|and then|and now|although|though|plus|also)\b")
MAX_PIECES = 24  # sentences and clauses read per message: a wall of text costs no more than this
MIN_WORDS = 4  # a sentence or clause shorter than this (in words of two letters or more) is not read for signs
_WORD = re.compile(r"[a-z]{2,}")


@dataclass(frozen=True)
class SignHit:
    """A warning sign the model found, its probability, and the sentence or clause it read it in."""

    sign: str
    score: float
    piece: str


@dataclass(frozen=True)
class Reading:
    """The encoder's view of a message: its embedding and the best piece for each warning sign."""

    embedding: np.ndarray | None  # None when the message is too short to read for signs ("thanks!", "hi")
    signs: tuple[SignHit, ...]  # best first; only signs scoring at least the reader's floor

    def above(self, threshold: float) -> tuple[SignHit, ...]:
        return tuple(hit for hit in self.signs if hit.score >= threshold)


def pieces(text: str) -> list[str]:
    """The sentences of `text` and, where a sentence has several, its clauses; at most MAX_PIECES."""
    found: list[str] = []
    for match in SENTENCE.finditer(text):
        sentence = match.group().strip()
        if len(_WORD.findall(sentence)) < MIN_WORDS:
            continue
        found.append(sentence)
        clauses = [c.strip() for c in _CLAUSE.split(sentence) if c and len(_WORD.findall(c)) >= MIN_WORDS]
        if len(clauses) > 1:
            found.extend(clauses)
    return list(dict.fromkeys(found))[:MAX_PIECES]


class Reader:
    """The encoder and the index's embedding classifiers, queried once per message."""

    def __init__(self, encoder: Encoder, index: Index, floor: float) -> None:
        self.encoder, self.index, self.floor = encoder, index, floor
        self.none = index.signs.index(NONE)

    def read(self, text: str) -> Reading:
        """Embed `text` (normalised, negated signs blanked) as a whole and piece by piece; not at all when
        it has nothing to read for signs (the router then encodes it alone, as here, if it routes it)."""
        whole = text.strip(" .?!;\n")
        parts = [p for p in pieces(text) if p != whole]  # a one-sentence message is encoded once
        long_enough = len(_WORD.findall(text)) >= MIN_WORDS
        if not parts and not long_enough:  # "thanks!", "hi": small talk is answered without the encoder
            return Reading(None, ())
        vectors = self.encoder.encode([text or " ", *parts])
        embedding = vectors[0]
        read = [(text, vectors[0])] if long_enough else []
        read += list(zip(parts, vectors[1:]))
        probabilities = self.index.sign_probabilities(np.array([vector for _, vector in read]))
        best: dict[str, SignHit] = {}
        for row, (piece, vector) in zip(probabilities, read):
            likely = [column for column, score in enumerate(row.tolist())
                      if column != self.none and score >= self.floor]
            if not likely:
                continue
            nearest = self.index.nearest_per_sign(vector)  # once per piece, for every likely sign
            for column in likely:
                sign, score = self.index.signs[column], float(row[column])
                if (sign not in best or score > best[sign].score) and nearest[column] >= nearest[self.none]:
                    best[sign] = SignHit(sign, score, piece.strip())
        return Reading(embedding, tuple(sorted(best.values(), key=lambda hit: -hit.score)))

    def topic_probabilities(self, embedding: np.ndarray) -> np.ndarray:
        return self.index.topic_embedding_probabilities(embedding)
