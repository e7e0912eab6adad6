"""The sentence encoder: all-MiniLM-L6-v2 as int8 ONNX, shipped in the package (bot/encoder/).

onnxruntime runs it and `tokenizers` splits the text; nothing is downloaded and torch is never
imported. `Encoder` is the interface the core receives, so tests that are not about
understanding can pass a small fake.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "encoder"
MAX_TOKENS = 256  # longer sentences are truncated (the tokenizer file says so too)
BATCH = 16  # sentences per pass, padded only to the longest of them: a long message stays small in memory
DIMENSIONS = 384


class Encoder(Protocol):
    """Turns sentences into L2-normalised vectors; `fingerprint` names the model for cache keys."""

    @property
    def fingerprint(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), dimensions) float32 array, one unit-length row per text."""
        ...


class OnnxEncoder:
    """The shipped model, loaded once; `encode` is thread-safe (onnxruntime sessions are)."""

    def __init__(self, folder: Path = MODEL_DIR, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model = folder / "model.onnx"
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # one core per answer: the adapters run answers side by side
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._lock = threading.Lock()  # the Rust tokenizer is shared; its truncation settings are not per call
        self._fingerprint = _fingerprint(model, folder / "tokenizer.json")

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), np.float32)
        with self._lock:  # one by one: encode_batch's thread pool costs more than it saves on a few sentences
            encodings = [self._tokenizer.encode(text) for text in texts]
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch
        out = np.empty((len(ids), DIMENSIONS), np.float32)
        for start in range(0, len(order), BATCH):
            chosen = order[start:start + BATCH]
            out[chosen] = self._pass([ids[i] for i in chosen])
        return out

    def _pass(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in batch)
        input_ids = np.zeros((len(batch), width), np.int64)
        mask = np.zeros((len(batch), width), np.int64)
        for n, row in enumerate(batch):
            input_ids[n, :len(row)] = row
            mask[n, :len(row)] = 1
        tokens = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(input_ids)})[0]
        summed = (tokens * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return normalized(pooled.astype(np.float32))


def normalized(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def _fingerprint(*files: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
