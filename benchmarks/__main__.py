"""`python -m benchmarks [--quick] [--out DIR]`: measure hipbot, print the tables, write RESULTS.md and growth.png."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bot import default_engine

from . import accuracy, growth, latency, memory, process, store, telegram_path
from .common import Table, cycle, eval_file, questions
from .report import console, load_average, summary, write

PLOT = "growth.png"
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """How much each measurement does."""

    mode: str
    latency_calls: int
    jsonl_lines: int
    jsonl_runs: int
    start_runs: int
    cold_cache_runs: int
    telegram_messages: int
    telegram_chats: int
    idle_seconds: float
    growth_factors: tuple[int, ...]
    growth_calls: int
    store_sizes: tuple[int, ...]
    sessions: int


FULL = Settings("full", 6000, 3000, 3, 9, 3, 2000, 200, 3.0, (1, 10, 100), 1000, (1000, 10_000, 100_000), 10_000)
QUICK = Settings("quick", 3000, 3000, 1, 3, 1, 500, 50, 2.0, (1, 10), 300, (1000, 10_000), 10_000)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every measurement, then print the targets and write RESULTS.md and growth.png."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (about 2 minutes instead of 10)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder for RESULTS.md and growth.png (default: benchmarks/)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    started, load = time.perf_counter(), load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hipbot-bench-") as folder:
        cache = Path(folder) / "cache"
        os.environ["HIPBOT_CACHE_DIR"] = str(cache)  # the in-process engine builds the warm cache here
        # Children cache bytecode in the temporary folder, as an installed hipbot would, even where
        # PYTHONDONTWRITEBYTECODE is set, and without writing into the project.
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        tables = run(settings, cache, args.out)
    print(console(summary(tables)))
    path = write(args.out, tables, PLOT, [("mode", settings.mode), ("load average (1 min) before the run", load),
                                          ("benchmark wall time", f"{time.perf_counter() - started:.0f} s")])
    print(f"\nwrote {path} and {args.out / PLOT}")
    return 0


def run(settings: Settings, cache: Path, out: Path) -> list[Table]:
    """The six measurements in turn, each table printed as soon as it is ready."""
    engine = default_engine()
    texts = questions()
    tables: list[Table] = []

    def show(table: Table) -> None:
        tables.append(table)
        print(console(table) + "\n", flush=True)

    show(step(f"per-question latency, {settings.latency_calls} calls",
              lambda: latency.measure(engine, texts, settings.latency_calls)))
    jsonl = step(f"hipbot ask --jsonl, {settings.jsonl_lines} lines x {settings.jsonl_runs}",
                 lambda: process.jsonl_runs(cycle(texts, settings.jsonl_lines), cache, settings.jsonl_runs))
    show(process.throughput_table(jsonl, settings.jsonl_lines))
    start, cold = step("start-up", lambda: process.startup_table(cache, settings.start_runs, settings.cold_cache_runs))
    show(start)
    show(step("import profile", lambda: process.import_profile(cache)))
    rss = step("idle hipbot telegram", lambda: memory.idle_telegram_rss(cache, settings.idle_seconds))
    show(memory.memory_table(jsonl, settings.jsonl_lines, cold, rss, settings.idle_seconds))
    runs = step(f"conversation store {settings.store_sizes}", lambda: store.measure(settings.store_sizes))
    chat_bytes = step("RSS of 10,000 chats", lambda: store.chat_rss(10_000))
    one, many = step(f"hipbot ask --jsonl, {settings.sessions} sessions",
                     lambda: store.jsonl_session_rss(settings.sessions, cache))
    show(store.store_table(runs, chat_bytes, one, many))
    sendable = telegram_path.sendable(engine, texts)
    rate = step(f"Telegram path, {settings.telegram_messages} messages", lambda: telegram_path.replies_per_second(
        sendable, settings.telegram_messages, settings.telegram_chats))
    show(telegram_path.telegram_table(rate, settings.telegram_messages, settings.telegram_chats))
    sizes = step(f"growth {settings.growth_factors}",
                 lambda: growth.measure(texts, settings.growth_factors, settings.growth_calls))
    show(growth.growth_table(sizes, settings.growth_calls))
    growth.plot(sizes, out / PLOT)
    show(step("accuracy ablation", lambda: accuracy.compare_table(eval_file(), cache)))
    return tables


def step(name: str, action: Callable[[], T]) -> T:
    """Run one measurement, saying on stderr what runs and how long it took."""
    print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = action()
    print(f"[benchmarks] {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
