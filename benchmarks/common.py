"""Shared pieces: project paths, the question set, percentiles, child processes and result tables."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED_EVAL = ROOT.parent / "shared" / "eval" / "dev.yaml"
FALLBACK_EVAL = ROOT / "tests" / "data" / "paraphrases.yaml"
TOKEN = "123456:" + "A" * 35  # well-formed, only ever sent to the fake Bot API on 127.0.0.1
MB = 1_000_000
_LAUNCHER = """
import os, sys, time
report, command = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawnp(command[0], command, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(report, "w") as out:
    out.write(f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


@dataclass(frozen=True)
class Check:
    """A measured figure beside its target."""

    name: str
    measured: str
    target: str
    met: bool


@dataclass
class Table:
    """One result table: column names, rows of formatted cells, a note, and the targets it checks.

    `text` holds preformatted output instead of rows (a command's own table).
    """

    title: str
    columns: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)
    note: str = ""
    checks: list[Check] = field(default_factory=list)
    text: str = ""


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: wall time from spawn to exit, its own peak RSS and its output."""

    seconds: float
    peak_rss: int  # bytes
    returncode: int
    stdout: bytes
    stderr: bytes

    def checked(self, what: str) -> ChildRun:
        """This run, or RuntimeError with the end of its stderr when it failed."""
        if self.returncode != 0:
            raise RuntimeError(f"{what} failed (status {self.returncode}): {self.stderr.decode()[-500:]}")
        return self


def eval_file() -> Path:
    """The shared dev set, or the project's own paraphrase set when ../shared is missing."""
    return SHARED_EVAL if SHARED_EVAL.is_file() else FALLBACK_EVAL


def questions(path: Path | None = None) -> list[str]:
    """The texts of an eval file's items and conversation turns, in file order."""
    from bot.evaluate import load_cases

    return [case.text for case in load_cases(path or eval_file())]


def cycle(items: Sequence[str], count: int) -> list[str]:
    """`items` repeated in order to exactly `count` entries."""
    return [items[i % len(items)] for i in range(count)]


def percentiles(samples_ns: Sequence[int], points: Sequence[int] = (50, 95, 99)) -> dict[int, float]:
    """The given percentiles of nanosecond samples, in milliseconds."""
    values = np.percentile(np.asarray(samples_ns, dtype=np.float64), points) / 1e6
    return {point: float(value) for point, value in zip(points, values)}


def hipbot() -> list[str]:
    """The `hipbot` console script next to this Python, else `python -m bot.cli`."""
    script = Path(sys.executable).with_name("hipbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def child_env(cache: Path, **extra: str) -> dict[str, str]:
    """This environment with the index cache at `cache` and `extra` variables."""
    return {**os.environ, "HIPBOT_CACHE_DIR": str(cache), **extra}


def run_child(command: Sequence[str], env: dict[str, str], stdin: Path | None = None) -> ChildRun:
    """Run `command` to its end, timed from spawn to exit, with its own peak RSS and output.

    Linux carries the parent's RSS high-water mark into a child's ru_maxrss when it execs, so the
    command is spawned by a bare launcher Python (a few MB, below any child's peak) that times it
    and reads its ru_maxrss with wait4: nothing polls the child while it runs.
    """
    with tempfile.TemporaryDirectory(prefix="hipbot-bench-run-") as folder:
        out, err, report = (Path(folder) / name for name in ("stdout", "stderr", "report"))
        with open(stdin or os.devnull, "rb") as source, out.open("wb") as sink, err.open("wb") as errors:
            subprocess.run([sys.executable, "-c", _LAUNCHER, str(report), *command], stdin=source, stdout=sink,
                           stderr=errors, env=env, cwd=ROOT, check=True)
        seconds, maxrss, status = report.read_text().split()
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in KiB on Linux
        return ChildRun(float(seconds), int(maxrss) * scale, int(status), out.read_bytes(), err.read_bytes())


def fake_bot_api() -> ModuleType:
    """tests/fake_bot_api.py, the fake Telegram Bot API server (tests/ is not a package)."""
    if "fake_bot_api" not in sys.modules:
        spec = importlib.util.spec_from_file_location("fake_bot_api", ROOT / "tests" / "fake_bot_api.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["fake_bot_api"] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules["fake_bot_api"]


def verdict(met: bool) -> str:
    """The cell that says whether a target is met."""
    return "meets" if met else "MISSES"
