"""Per-question latency in process: `engine.answer` beside a bare scikit-learn TF-IDF floor."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence

from bot import Chunk, Engine

from .common import Check, Table, cycle, percentiles, verdict

TARGET_MS = {50: 4.0, 99: 20.0}  # per message, sentence encoder included, on one core

Answerer = Callable[[str], object]


def floor_answerer(chunks: Sequence[Chunk]) -> Answerer:
    """The floor: TfidfVectorizer(ngram_range=(1, 2)) on the chunks, one transform and one sparse product."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2))
    matrix = vectorizer.fit_transform([f"{chunk.heading} {chunk.text}" for chunk in chunks])
    return lambda text: matrix @ vectorizer.transform([text]).T


def time_calls(answerers: Sequence[Answerer], texts: Sequence[str], warmup: int) -> list[list[int]]:
    """Nanoseconds of each call of each answerer, interleaved call by call so drift hits all alike."""
    for text in cycle(texts, warmup):
        for answer in answerers:
            answer(text)
    gc.collect()  # start from a clean heap, not from the garbage of whatever ran before
    samples: list[list[int]] = [[] for _ in answerers]
    clock = time.perf_counter_ns
    for text in texts:
        for answer, times in zip(answerers, samples):
            start = clock()
            answer(text)
            times.append(clock() - start)
    return samples


def measure(engine: Engine, texts: Sequence[str], calls: int, warmup: int = 200) -> Table:
    """p50/p95/p99 of `engine.answer(text)` and of the floor over `calls` questions."""
    ours, floor = (percentiles(s) for s in time_calls([engine.answer, floor_answerer(engine.chunks)],
                                                        cycle(texts, calls), warmup))
    table = Table(
        "Per question, in process",
        ("percentile", "hipbot engine.answer", "floor: sklearn TF-IDF", "ratio", "target", "verdict"),
        note=f"{calls} calls over {len(set(texts))} distinct questions, each answerer warmed up with {warmup} calls; "
             f"calls alternate between the two answerers; one thread, garbage collector on. "
             f"The floor is TfidfVectorizer(ngram_range=(1, 2)) fitted on the same {len(engine.chunks)} chunks "
             f"(heading + text), then transform([q]) and one sparse product with the chunk matrix.",
    )
    for point in (50, 95, 99):
        ratio = ours[point] / floor[point]
        met = point not in TARGET_MS or ours[point] <= TARGET_MS[point]
        target = f"≤ {TARGET_MS[point]:g} ms" if point in TARGET_MS else ""
        table.rows.append((f"p{point}", f"{ours[point]:.3f} ms", f"{floor[point]:.3f} ms", f"{ratio:.2f}x",
                           target, verdict(met)))
        if point != 95:
            table.checks.append(Check(f"answer p{point}", f"{ours[point]:.3f} ms = {ratio:.2f}x floor",
                                      target, met))
    return table
