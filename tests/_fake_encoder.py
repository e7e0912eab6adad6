"""A stand-in for the sentence encoder, for tests that are not about understanding (loading, caching,
rebuilding): words hashed into the encoder's dimensions. Deterministic, instant, no model file."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from bot._encoder import DIMENSIONS, normalized

_WORD = re.compile(r"[a-z]+")


class HashingEncoder:
    """Each word of a text counted in one of DIMENSIONS buckets (by its CRC-32), the row L2-normalised."""

    fingerprint = "hashing-words-for-tests"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), DIMENSIONS), np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                rows[row, zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
        return normalized(rows)
