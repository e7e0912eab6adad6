"""Memory: peak RSS of `hipbot ask --jsonl` and of an index build, RSS of an idle `hipbot telegram`."""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from .common import MB, ROOT, TOKEN, Check, ChildRun, Table, child_env, fake_bot_api, hipbot, verdict

RSS_TARGET = 200 * MB  # the sentence encoder takes about 100 MB of it
START_TIMEOUT = 60.0


def idle_telegram_rss(cache: Path, seconds: float) -> int:
    """RSS in bytes of `hipbot telegram` after polling a fake Bot API on 127.0.0.1 for `seconds`."""
    return asyncio.run(_idle_telegram_rss(cache, seconds))


async def _idle_telegram_rss(cache: Path, seconds: float) -> int:
    async with fake_bot_api().FakeBotAPI(TOKEN) as api:
        with tempfile.TemporaryFile() as log:
            process = await asyncio.create_subprocess_exec(
                *hipbot(), "telegram", "--base-url", api.base_url, "--no-persistence", cwd=ROOT,
                env=child_env(cache, TELEGRAM_BOT_TOKEN=TOKEN), stdout=log, stderr=log,
            )
            try:
                deadline = time.monotonic() + START_TIMEOUT
                while not api.calls_of("getUpdates"):
                    if process.returncode is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"hipbot telegram did not start polling: {log.read().decode()[-500:]}")
                    await asyncio.sleep(0.05)
                await asyncio.sleep(seconds)
                return int(psutil.Process(process.pid).memory_info().rss)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
                await asyncio.wait_for(process.wait(), 30)


def memory_table(jsonl: Sequence[ChildRun], lines: int, cold: Sequence[ChildRun], telegram_rss: int,
                 idle_seconds: float) -> Table:
    """Peak and idle resident memory beside the 200 MB target."""
    peak = max(run.peak_rss for run in jsonl)
    met = peak <= RSS_TARGET
    return Table(
        "Memory (resident set size)",
        ("process", "RSS", "target", "verdict"),
        [
            (f"hipbot ask --jsonl, {lines} questions, warm cache: peak", f"{peak / MB:.0f} MB",
             f"≤ {RSS_TARGET / MB:.0f} MB", verdict(met)),
            ("hipbot ask, empty cache (builds the index with scikit-learn): peak",
             f"{max(run.peak_rss for run in cold) / MB:.0f} MB", "", ""),
            (f"hipbot telegram --no-persistence, idle after {idle_seconds:g} s polling the fake Bot API",
             f"{telegram_rss / MB:.0f} MB", "", ""),
        ],
        note="Peaks are the child's own ru_maxrss from wait4 (nothing polls it); the idle figure is psutil's RSS. "
             "1 MB = 10^6 bytes.",
        checks=[Check(f"peak RSS of hipbot ask --jsonl ({lines} questions)", f"{peak / MB:.0f} MB",
                      f"≤ {RSS_TARGET / MB:.0f} MB", met)],
    )
