"""Whole-process figures: `hipbot ask --jsonl` throughput, start-up time and the import profile."""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .common import Check, ChildRun, Table, child_env, hipbot, run_child, verdict

QUESTION = "why does my lower back hurt on hip thrusts?"
BARE_IMPORTS = "import numpy, yaml, rapidfuzz"  # what answering from a cached TF-IDF index needs
START_TARGET_S = 1.0  # hipbot ask, warm cache, spawn to exit
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|\s*(\S.*)$")


def jsonl_runs(texts: Sequence[str], cache: Path, runs: int) -> list[ChildRun]:
    """`hipbot ask --jsonl` fed one line per text on stdin, `runs` times; checks every line was answered."""
    with tempfile.TemporaryDirectory(prefix="hipbot-bench-jsonl-") as folder:
        lines = Path(folder) / "questions.jsonl"
        lines.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
        results = [run_child([*hipbot(), "ask", "--jsonl"], child_env(cache), stdin=lines).checked("hipbot ask --jsonl")
                   for _ in range(runs)]
    for run in results:
        replies = run.stdout.splitlines()  # bytes: only \n and \r split, and JSON escapes both
        if len(replies) != len(texts) or any("error" in json.loads(reply) for reply in replies):
            raise RuntimeError("hipbot ask --jsonl did not answer every line")
    return results


def throughput_table(runs: Sequence[ChildRun], lines: int) -> Table:
    """Questions per second through the whole `hipbot ask --jsonl` process, start-up included."""
    rates = sorted(lines / run.seconds for run in runs)
    return Table(
        "Whole process: hipbot ask --jsonl",
        ("lines", "runs", "median wall time", "median q/s", "best q/s"),
        [(str(lines), str(len(runs)), f"{statistics.median(r.seconds for r in runs):.2f} s",
          f"{statistics.median(rates):.1f}", f"{rates[-1]:.1f}")],
        note="Wall time from spawn to exit with a warm index cache; start-up is included and nothing is subtracted.",
    )


def startup_table(cache: Path, runs: int, cold_runs: int) -> tuple[Table, list[ChildRun]]:
    """Cold `hipbot ask` with a warm cache vs bare imports (median), and with an empty cache."""
    ask, bare = [*hipbot(), "ask", QUESTION], [sys.executable, "-c", BARE_IMPORTS]
    run_child(ask, child_env(cache)).checked("hipbot ask")  # warms the cache and the page cache
    timings: dict[str, list[float]] = {"ask": [], "bare": []}
    for _ in range(runs):  # alternated, so drift hits both alike
        timings["ask"].append(run_child(ask, child_env(cache)).checked("hipbot ask").seconds)
        timings["bare"].append(run_child(bare, child_env(cache)).checked("bare imports").seconds)
    cold: list[ChildRun] = []
    for _ in range(cold_runs):
        with tempfile.TemporaryDirectory(prefix="hipbot-bench-cold-") as empty:
            cold.append(run_child(ask, child_env(Path(empty))).checked("hipbot ask with an empty cache"))
    ask_median, bare_median = statistics.median(timings["ask"]), statistics.median(timings["bare"])
    cold_median = statistics.median(r.seconds for r in cold)
    ratio = ask_median / bare_median
    met = ask_median <= START_TARGET_S
    table = Table(
        "Start-up: one question per process",
        ("command", "runs", "median", "min", "ratio to floor", "target", "verdict"),
        [
            (f'hipbot ask "{QUESTION}" (warm cache)', str(runs), f"{ask_median * 1000:.0f} ms",
             f"{min(timings['ask']) * 1000:.0f} ms", f"{ratio:.2f}x", f"≤ {START_TARGET_S * 1000:.0f} ms",
             verdict(met)),
            (f'floor: python -c "{BARE_IMPORTS}"', str(runs), f"{bare_median * 1000:.0f} ms",
             f"{min(timings['bare']) * 1000:.0f} ms", "1.00x", "", ""),
            ("hipbot ask (empty cache: builds the index)", str(cold_runs), f"{cold_median * 1000:.0f} ms",
             f"{min(r.seconds for r in cold) * 1000:.0f} ms", f"{cold_median / bare_median:.1f}x", "", ""),
        ],
        note="Wall time from spawn to exit. Warm-cache and floor runs alternate, after one unmeasured warm-up run.",
        checks=[Check("cold hipbot ask (warm cache)",
                      f"{ask_median * 1000:.0f} ms = {ratio:.2f}x floor", f"≤ {START_TARGET_S * 1000:.0f} ms", met)],
    )
    return table, cold


def import_profile(cache: Path, top: int = 5) -> Table:
    """The heaviest imports of `hipbot ask` with a warm cache, by self and by cumulative time."""
    run = run_child([sys.executable, "-X", "importtime", "-c", "from bot.cli import main; main(['ask','hi'])"],
                    child_env(cache)).checked("python -X importtime")
    entries = parse_importtime(run.stderr.decode())
    by_self = sorted(entries, key=lambda e: -e[1])[:top]
    by_total = sorted(entries, key=lambda e: -e[2])[:top]
    return Table(
        "Import profile: python -X importtime -c \"from bot.cli import main; main(['ask','hi'])\"",
        ("rank", "by self time", "self", "by cumulative time", "cumulative"),
        [(str(n), s[0], f"{s[1] / 1000:.1f} ms", c[0], f"{c[2] / 1000:.1f} ms")
         for n, (s, c) in enumerate(zip(by_self, by_total), start=1)],
        note=f"One run with a warm index cache ({run.seconds * 1000:.0f} ms in all, importtime overhead included).",
    )


def parse_importtime(stderr: str) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) of every line `-X importtime` wrote."""
    return [(m[3].strip(), int(m[1]), int(m[2])) for m in map(_IMPORT_LINE.match, stderr.splitlines()) if m]
