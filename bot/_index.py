"""The TF-IDF index and intent classifier: built once with scikit-learn, queried with numpy.

Building imports scikit-learn; answering needs only numpy, so a cached index starts fast.
The cache file is keyed by a hash of the corpus, intents.yaml and the feature code.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import math
import operator
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np

from ._encoder import Encoder
from ._model import Chunk
from ._text import features, words

INDEX_FORMAT = 6
_CODE_FILES = ("_config.py", "_text.py", "_index.py", "_lexicon.py", "_understanding.py")  # what reads training data
EMBEDDING_C = 16.0  # inverse regularisation of the embedding classifiers (chosen on the development sets)
SIGN_WEIGHT = 6.0  # weight of a sign example against a no-sign one: misses cost more than false alarms
NONE = "none"  # the sign model's class for "no warning sign here"


@dataclass(frozen=True)
class Index:
    """Feature space, chunk vectors and classifier weights; read-only once built."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    chunk_weights: np.ndarray  # (features, chunks): each chunk's L2-normalised TF-IDF vector is a column
    classes: tuple[str, ...]
    class_weights: np.ndarray  # (features, classes): the classifier's coefficients, one row per feature
    intercept: np.ndarray
    domain_words: frozenset[str]  # content words of the corpus and lexicon (no stop words)
    known_words: frozenset[str]  # every word of the corpus and examples: never "corrected" as a typo
    topic_embedding_weights: np.ndarray  # (dimensions, classes): the topic classifier on sentence embeddings
    topic_embedding_intercept: np.ndarray
    signs: tuple[str, ...]  # the warning-sign model's classes, NONE among them
    sign_weights: np.ndarray  # (dimensions, signs)
    sign_intercept: np.ndarray
    sign_bank: np.ndarray  # (samples, dimensions): the sign model's training embeddings, for a nearest-example check
    sign_bank_labels: np.ndarray  # (samples,): each one's column in `signs`, in ascending order

    def __post_init__(self) -> None:
        for array in (self.idf, self.chunk_weights, self.class_weights, self.intercept, self.topic_embedding_weights,
                      self.topic_embedding_intercept, self.sign_weights, self.sign_intercept, self.sign_bank,
                      self.sign_bank_labels):
            array.setflags(write=False)

    def vectorize(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TF-IDF vector of `text` as (feature indices, weights): sublinear TF-IDF, L2-normalised, the
        features in the order the text first uses them."""
        found = Counter(map(self.vocabulary.get, features(text)))  # counted in C
        del found[None]  # the n-grams the index does not know (a Counter's del ignores a missing key)
        counts = cast("Counter[int]", found)
        idf = self._idf
        weights = [(1.0 + math.log(n)) * idf[j] if n > 1 else idf[j] for j, n in counts.items()]  # log 1 = 0
        norm = math.sqrt(sum(map(operator.mul, weights, weights)))  # summed in order: the same bits as ever
        if not norm:
            return np.zeros(0, np.intp), np.zeros(0, np.float64)
        return np.fromiter(counts, np.intp, len(counts)), np.array(weights, np.float64) / norm

    @functools.cached_property
    def _idf(self) -> list[float]:
        """`idf` as Python floats: read one by one per message, a list is several times faster than the array."""
        values: list[float] = self.idf.tolist()
        return values

    def similarities(self, vector: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Cosine similarity of a query vector to every chunk."""
        idx, val = vector
        scores: np.ndarray = val @ self.chunk_weights[idx]  # rows of the query's features only: contiguous reads
        return scores

    def probabilities(self, vector: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Classifier probability of every class for a query vector."""
        idx, val = vector
        return softmax(val @ self.class_weights[idx] + self.intercept)

    def topic_embedding_probabilities(self, embedding: np.ndarray) -> np.ndarray:
        """The embedding classifier's probability of every class (same order as `classes`)."""
        return softmax(embedding @ self.topic_embedding_weights + self.topic_embedding_intercept)

    def nearest_per_sign(self, embedding: np.ndarray) -> np.ndarray:
        """(signs,): for each class of the sign model (NONE among them), the similarity of `embedding` to
        its nearest training example. A sign counts only where it beats NONE: a look-alike such as
        "fell off the wagon" sits nearest to its own kind."""
        return np.maximum.reduceat(self.sign_bank @ embedding, self._sign_starts)

    @functools.cached_property
    def _sign_starts(self) -> np.ndarray:
        """Where each sign's examples begin in the bank (sorted by sign at build time, every sign present)."""
        return np.searchsorted(self.sign_bank_labels, np.arange(len(self.signs)))

    def sign_probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """(pieces, signs): each piece's probability of every warning sign (and of none)."""
        logits = embeddings @ self.sign_weights + self.sign_intercept
        logits = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities: np.ndarray = logits / logits.sum(axis=1, keepdims=True)
        return probabilities


def softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max())
    probabilities: np.ndarray = exponentials / exponentials.sum()
    return probabilities


def build_index(chunk_texts: list[str], samples: list[tuple[str, str]], domain_text: str,
                known_words: frozenset[str], encoder: Encoder, topic_texts: list[str],
                sign_samples: list[tuple[str, str]]) -> Index:
    """Fit the feature space on chunks and labelled samples, then the classifiers: topics on
    TF-IDF features and, beside it, on sentence embeddings of `topic_texts` (the samples as
    written, one per sample); warning signs on embeddings of `sign_samples`.

    `domain_text` (corpus and lexicon) gives the content words that make a message on-topic.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = [label for _, label in samples]
    vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True, dtype=np.float64)
    vectorizer.fit(chunk_texts + [text for text, _ in samples])
    classifier = LogisticRegression(C=20.0, max_iter=3000)
    classifier.fit(vectorizer.transform([text for text, _ in samples]), labels)
    embedded = LogisticRegression(C=EMBEDDING_C, max_iter=3000, class_weight="balanced")  # out_of_scope is a big class
    embedded.fit(encoder.encode(topic_texts), labels)
    names = [sign for _, sign in sign_samples]
    signs = LogisticRegression(C=EMBEDDING_C, max_iter=3000,
                               class_weight={name: 1.0 if name == NONE else SIGN_WEIGHT for name in set(names)})
    bank = encoder.encode([text for text, _ in sign_samples])
    signs.fit(bank, names)
    columns = np.array([list(signs.classes_).index(name) for name in names], dtype=np.int16)
    order = np.argsort(columns, kind="stable")  # grouped by sign: the nearest-example check reduces per group
    return Index(
        vocabulary={str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
        idf=vectorizer.idf_.astype(np.float64),
        chunk_weights=np.ascontiguousarray(vectorizer.transform(chunk_texts).toarray().T, dtype=np.float32),
        classes=tuple(str(c) for c in classifier.classes_),
        class_weights=np.ascontiguousarray(classifier.coef_.T, dtype=np.float32),
        intercept=classifier.intercept_.astype(np.float64),
        domain_words=frozenset(w for w in words(domain_text) if len(w) > 2 and w not in ENGLISH_STOP_WORDS),
        known_words=known_words,
        topic_embedding_weights=np.ascontiguousarray(embedded.coef_.T, dtype=np.float32),
        topic_embedding_intercept=embedded.intercept_.astype(np.float32),
        signs=tuple(str(c) for c in signs.classes_),
        sign_weights=np.ascontiguousarray(signs.coef_.T, dtype=np.float32),
        sign_intercept=signs.intercept_.astype(np.float32),
        sign_bank=np.ascontiguousarray(bank[order], dtype=np.float32),
        sign_bank_labels=columns[order],
    )


def content_key(chunks: tuple[Chunk, ...], intents_text: str, encoder: str) -> str:
    """Hash of everything the index depends on: chunks, intents.yaml, the encoder's fingerprint and the
    feature code (not the reply code)."""
    digest = hashlib.sha256(f"format {INDEX_FORMAT}\nencoder {encoder}\n".encode())
    for chunk in chunks:  # by file name, not path: the checkout and an installed package agree
        digest.update(repr(replace(chunk, source=Path(chunk.source).name)).encode())
    digest.update(intents_text.encode())
    here = Path(__file__).parent
    for name in _CODE_FILES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:20]


def cache_dir() -> Path:
    """Where built indexes are kept: $HIPBOT_CACHE_DIR, else the user cache directory."""
    if os.environ.get("HIPBOT_CACHE_DIR"):
        return Path(os.environ["HIPBOT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hipbot"


def load_cached(key: str, folder: Path) -> Index | None:
    """The cached index for `key`, or None when it is missing, unreadable or of another format."""
    path = folder / f"index-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != INDEX_FORMAT or str(data["key"]) != key:
                return None
            terms = _unpack(data["terms"])
            return Index(
                vocabulary=dict(zip(terms, range(len(terms)))),
                idf=data["idf"], chunk_weights=data["chunk_weights"],
                classes=tuple(data["classes"].tolist()), class_weights=data["class_weights"],
                intercept=data["intercept"],
                domain_words=frozenset(_unpack(data["domain_words"])),
                known_words=frozenset(_unpack(data["known_words"])),
                topic_embedding_weights=data["topic_embedding_weights"],
                topic_embedding_intercept=data["topic_embedding_intercept"],
                signs=tuple(_unpack(data["signs"])), sign_weights=data["sign_weights"],
                sign_intercept=data["sign_intercept"], sign_bank=data["sign_bank"],
                sign_bank_labels=data["sign_bank_labels"],
            )
    except Exception:  # noqa: BLE001 - a missing, truncated or corrupt zip can raise almost anything: rebuild
        return None


def save_cached(key: str, folder: Path, index: Index) -> Path | None:
    """Write the index atomically (temporary file, then rename); None when the folder is not writable."""
    import tempfile  # only when writing: keeps start-up light

    terms = sorted(index.vocabulary, key=index.vocabulary.__getitem__)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".index-{key}-", suffix=".npz", dir=folder)
    except OSError:
        return None
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(
                stream, format=INDEX_FORMAT, key=key, terms=_pack(terms), idf=index.idf,
                chunk_weights=index.chunk_weights, classes=np.array(index.classes),
                class_weights=index.class_weights, intercept=index.intercept,
                domain_words=_pack(sorted(index.domain_words)), known_words=_pack(sorted(index.known_words)),
                topic_embedding_weights=index.topic_embedding_weights,
                topic_embedding_intercept=index.topic_embedding_intercept,
                signs=_pack(list(index.signs)), sign_weights=index.sign_weights, sign_intercept=index.sign_intercept,
                sign_bank=index.sign_bank, sign_bank_labels=index.sign_bank_labels,
            )
        target = folder / f"index-{key}.npz"
        os.replace(temporary, target)
        return target
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        return None


@contextlib.contextmanager
def build_lock(key: str, folder: Path) -> Iterator[None]:
    """Held while one process builds the index for `key`: others starting at once wait, then load it.
    Without a writable cache folder there is nothing to share, and no lock."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(folder / f".index-{key}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def _pack(strings: list[str]) -> np.ndarray:
    """Strings as one compact UTF-8 byte array (a fixed-width unicode array is ~10x larger)."""
    return np.frombuffer("\n".join(strings).encode(), dtype=np.uint8)


def _unpack(packed: np.ndarray) -> list[str]:
    text = packed.tobytes().decode()
    return text.split("\n") if text else []
