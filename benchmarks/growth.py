"""Growth: index build time, cache size and per-question time as the corpus grows to 10x and 100x.

Corpora are synthesized at run time: the originals plus perturbed copies of every article, whose
heading ids are renamed ({#cause.x} -> {#cause.x_copy7 topic=cause.x}) so each copy serves the
original topics, with sentences shuffled and one word per paragraph numbered.
"""

from __future__ import annotations

import gc
import importlib
import random
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import Engine

from .common import MB, ROOT, Table, cycle, percentiles
from .latency import time_calls

_ANCHOR = re.compile(r"\{#([\w.\-]+)((?:\s+\w+=[\w.\-]+)*)\s*\}")
_TOPIC = re.compile(r"\s*topic=([\w.\-]+)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PREFIX = re.compile(r"^\s*(?:[-*+]|\d+\.)?\s*")
_WORD = re.compile(r"[A-Za-z]{4,}")


@dataclass(frozen=True)
class Size:
    """Figures for one corpus size."""

    factor: int
    chunks: int
    features: int
    build_s: float  # Engine start with an empty cache: load, build the index, save it
    start_s: float  # Engine start with the cache warm
    cache_bytes: int
    p50_ms: float
    p99_ms: float


def perturb(markdown: str, copy: int, rng: random.Random) -> str:
    """Copy number `copy` of an article: ids renamed to serve the same topics, text lightly shuffled."""
    head, body = "", markdown
    if markdown.startswith("---\n"):
        end = markdown.find("\n---\n", 4) + 5
        head, body = markdown[:end], markdown[end:]
    lines = []
    for line in body.splitlines():
        if line.startswith("##"):
            line = _rename(line, copy)
        elif line.strip() and not line.startswith("#"):
            prefix = _PREFIX.match(line)[0]  # type: ignore[index]  # the pattern matches every line
            sentences = _SENTENCE.split(line[len(prefix):].strip())
            rng.shuffle(sentences)
            text = " ".join(sentences)
            words = list(_WORD.finditer(text))
            if words:
                word = rng.choice(words)
                text = f"{text[:word.end()]}{copy}{text[word.end():]}"
            line = prefix + text
        lines.append(line)
    return head + "\n".join(lines) + "\n"


def _rename(heading: str, copy: int) -> str:
    """A heading with its id made unique to the copy and its topic kept (no id: its text made unique)."""
    anchor = _ANCHOR.search(heading)
    if anchor is None:
        return f"{heading} copy {copy}"
    ident, attrs = anchor[1], anchor[2]
    topic = _TOPIC.search(attrs)
    rest = _TOPIC.sub("", attrs)
    renamed = f"{ident}_copy{copy}" if "." in ident else f"{ident}.copy{copy}"
    anchor_text = f"{{#{renamed} topic={topic[1] if topic else ident}{rest}}}"
    return heading[:anchor.start()] + anchor_text + heading[anchor.end():]


def synthesize(corpus: Path, target: Path, factor: int, seed: int = 0) -> None:
    """Write the articles of `corpus` into `target`, plus `factor - 1` perturbed copies of each."""
    target.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for path in sorted(corpus.glob("**/*.md")):
        markdown = path.read_text(encoding="utf-8")
        (target / path.name).write_text(markdown, encoding="utf-8")
        for copy in range(1, factor):
            (target / f"{path.stem}.copy{copy}.md").write_text(perturb(markdown, copy, rng), encoding="utf-8")


def measure_size(corpus: Path, cache: Path, texts: Sequence[str], calls: int, factor: int) -> Size:
    """Start an Engine on `corpus` with an empty and then a warm cache, and time its answers."""
    intents = ROOT / "intents.yaml"
    start = time.perf_counter()
    engine = Engine(corpus, intents, cache=cache)
    build = time.perf_counter() - start
    start = time.perf_counter()
    Engine(corpus, intents, cache=cache)
    warm = time.perf_counter() - start
    points = percentiles(time_calls([engine.answer], cycle(texts, calls), warmup=min(calls, 100))[0], (50, 99))
    return Size(factor, len(engine.chunks), len(engine.index.vocabulary), build, warm,
                sum(f.stat().st_size for f in cache.glob("index-*.npz")), points[50], points[99])


def measure(texts: Sequence[str], factors: Sequence[int], calls: int) -> list[Size]:
    """One Size per factor, each on a fresh synthetic corpus and an empty cache in a temporary folder."""
    for module in ("sklearn.feature_extraction.text", "sklearn.linear_model"):
        importlib.import_module(module)  # so the first build is not charged for importing scikit-learn
    sizes = []
    for factor in factors:
        with tempfile.TemporaryDirectory(prefix=f"hipbot-bench-growth-{factor}x-") as folder:
            synthesize(ROOT / "corpus", Path(folder) / "corpus", factor)
            sizes.append(measure_size(Path(folder) / "corpus", Path(folder) / "cache", texts, calls, factor))
        gc.collect()
    return sizes


def growth_table(sizes: Sequence[Size], calls: int) -> Table:
    """The growth figures, one row per corpus size."""
    return Table(
        "Growth: the corpus copied " + " / ".join(f"{s.factor}x" for s in sizes),
        ("corpus", "chunks", "features", "build (empty cache)", "start (warm cache)", "cache file",
         "answer p50", "answer p99"),
        [(f"{s.factor}x", str(s.chunks), str(s.features), f"{s.build_s:.2f} s", f"{s.start_s:.2f} s",
          f"{s.cache_bytes / MB:.1f} MB", f"{s.p50_ms:.3f} ms", f"{s.p99_ms:.3f} ms") for s in sizes],
        note=f"Build and start are the whole Engine start-up (corpus, intents and check loading included). "
             f"{calls} answers per size over the same questions. Copies serve the original topics (the classifier "
             f"keeps its classes); each copy adds features through its numbered words.",
    )


def plot(sizes: Sequence[Size], path: Path) -> None:
    """Log-log PNG of build/start time and per-question time against the number of chunks."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    figure = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    chunks = [s.chunks for s in sizes]
    for axes, series, unit in (
        (left, {"build (empty cache)": [s.build_s for s in sizes], "start (warm cache)": [s.start_s for s in sizes]},
         "seconds"),
        (right, {"answer p50": [s.p50_ms for s in sizes], "answer p99": [s.p99_ms for s in sizes]}, "milliseconds"),
    ):
        for (label, values), marker in zip(series.items(), "os"):
            axes.loglog(chunks, values, marker=marker, label=label)
        first = next(iter(series.values()))[0]
        axes.loglog(chunks, [first * c / chunks[0] for c in chunks], ":", color="grey", label="linear in chunks")
        axes.set_xticks(chunks, [str(c) for c in chunks])
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.yaxis.set_minor_formatter(NullFormatter())
        axes.set_xlabel("chunks in the corpus")
        axes.set_ylabel(unit)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    left.set_title("Engine start-up")
    right.set_title("Per question")
    figure.savefig(path, dpi=100)
