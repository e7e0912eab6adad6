"""The Telegram conversation store and session memory: flush and shutdown times, event-loop stalls, RSS per 10k."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .common import MB, TOKEN, Check, Table, child_env, hipbot, run_child

SHUTDOWN_TARGET = 3.0  # seconds, at 100 000 stored chats
STALL_TARGET = 0.05  # seconds: the longest the event loop may wait while a typical batch is written
TYPICAL_CHANGED = 1000  # chats changed between two writes: more than Telegram's ~30 replies/s allow in 10 s
PER_CHAT = "why does my lower back hurt on hip thrusts?"
CONVERSATION = (PER_CHAT, "how do I fix that?", "what else?", "where should the pad sit?", "my leg tingles")
_CHAT_RSS = """
import gc, json, sys
import psutil
from bot import answer
from bot.telegram._store import read_chat
state = None
for text in sys.argv[2:]:
    reply = answer(text, state)
    state = reply.state
data = {"state": state.to_dict(), "generation": 987654321, "update": 987654321,
        "suggestions": list(reply.suggestions), "seen": 1.0e9}
text = json.dumps(data)
chats = {}
gc.collect()
before = psutil.Process().memory_info().rss
for chat in range(int(sys.argv[1])):
    chats[chat] = read_chat(text)  # as the store loads it after a restart
gc.collect()
print(psutil.Process().memory_info().rss - before)
"""


@dataclass(frozen=True)
class StoreRun:
    """One size: start-up load, a batch write with the loop's longest stall during it, and the shutdown flush."""

    stored: int
    changed: int
    load_seconds: float
    batch_seconds: float
    stall_seconds: float
    shutdown_seconds: float


def measure(sizes: Sequence[int], changed: int = TYPICAL_CHANGED) -> list[StoreRun]:
    """For each size, a store holding that many chats of which `changed` changed since the last write;
    then the worst case, every chat of the largest size changed."""
    runs = [asyncio.run(_measure(stored, min(stored, changed))) for stored in sizes]
    return [*runs, asyncio.run(_measure(max(sizes), max(sizes)))]


async def _measure(stored: int, changed: int) -> StoreRun:
    from telegram.ext import ApplicationBuilder

    from bot import answer
    from bot.telegram import ChatStore

    state = answer(PER_CHAT, None).state.to_dict()
    with tempfile.TemporaryDirectory(prefix="hipbot-bench-store-") as folder:
        path = Path(folder) / "telegram.sqlite3"
        filler = ChatStore(path)
        await asyncio.gather(*(filler.update_chat_data(chat, {"state": state, "generation": 1})
                               for chat in range(stored)))
        await filler.flush()
        store = ChatStore(path)
        application = ApplicationBuilder().token(TOKEN).persistence(store).build()
        started = time.perf_counter()
        application._chat_data.update(await store.get_chat_data())  # what Application.initialize does
        load = time.perf_counter() - started
        timings = []
        for generation in (2, 3):  # a run of PTB's periodic update, then what Application.shutdown does
            for chat in range(changed):
                application.chat_data[chat].update(generation=generation, suggestions=["How do I fix it?"])
            application.mark_data_for_update_persistence(chat_ids=range(changed))
            stall = _Ticker()
            ticking = asyncio.create_task(stall.run())
            started = time.perf_counter()
            await application.update_persistence()
            if generation == 3:
                await store.flush()
            timings.append((time.perf_counter() - started, stall.longest))
            ticking.cancel()
        reloaded = await ChatStore(path).get_chat_data()
        if len(reloaded) != stored or any(reloaded[chat]["generation"] != 3 for chat in range(changed)):
            raise RuntimeError("the store lost chats")
    return StoreRun(stored, changed, load, timings[0][0], max(t[1] for t in timings), timings[1][0])


class _Ticker:
    """Sleeps 1 ms at a time and records the longest it had to wait beyond that: the loop's stall."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - started - 0.001)


def chat_rss(chats: int) -> int:
    """Bytes of RSS that `chats` chats' data take in a bot process (a fresh child): each chat five turns into a
    conversation (a red flag among them), loaded from the store as after a restart, so no string is shared."""
    run = run_child([sys.executable, "-c", _CHAT_RSS, str(chats), *CONVERSATION],
                    child_env(Path(tempfile.gettempdir())))
    return int(run.checked("chat RSS").stdout)


def jsonl_session_rss(sessions: int, cache: Path) -> tuple[int, int]:
    """Peak RSS of `hipbot ask --jsonl` over `sessions` lines in one session, then in `sessions` sessions."""
    run_child([*hipbot(), "ask", "hi"], child_env(cache)).checked("hipbot ask")  # the index cache is warm
    peaks = []
    with tempfile.TemporaryDirectory(prefix="hipbot-bench-sessions-") as folder:
        for distinct in (False, True):
            lines = Path(folder) / f"lines-{distinct}.jsonl"
            lines.write_text("".join(json.dumps({"text": PER_CHAT, "session": f"s{i if distinct else 0}"}) + "\n"
                                     for i in range(sessions)))
            run = run_child([*hipbot(), "ask", "--jsonl"], child_env(cache), stdin=lines).checked("hipbot ask --jsonl")
            peaks.append(run.peak_rss)
    return peaks[0], peaks[1]


def store_table(runs: Sequence[StoreRun], chat_bytes: int, one_session: int, many_sessions: int) -> Table:
    """The store's figures beside their targets."""
    typical = runs[:-1]  # measure() puts the worst case last
    largest = max(typical, key=lambda run: run.stored)
    worst_stall = max(run.stall_seconds for run in typical)
    rows: list[tuple[str, ...]] = [(f"{run.stored:,}", f"{run.changed:,}", f"{run.load_seconds * 1000:.0f} ms",
             f"{run.batch_seconds * 1000:.0f} ms", f"{run.stall_seconds * 1000:.1f} ms",
             f"{run.shutdown_seconds * 1000:.0f} ms") for run in runs]
    return Table(
        "Telegram conversation store (SQLite, WAL, one transaction per batch)",
        ("chats stored", "changed since the last write", "load at start", "batch write (update_persistence)",
         "longest event-loop stall", "shutdown (update_persistence + flush)"),
        rows,
        note=f"PTB hands changed chats to the store every 10 s and at shutdown. Telegram lets a bot send about 30 "
             f"messages a second, so {TYPICAL_CHANGED:,} changed chats per write is already more than a real bot "
             f"sees; the last row, every chat changed at once, is the worst case. The stall is the longest extra "
             f"wait of a 1 ms sleeper during the write: PTB's deepcopy of each changed chat and its gather run on "
             f"the loop, the JSON encoding and the SQLite write in a thread. RSS per 10,000 Telegram chats in "
             f"memory: {chat_bytes / MB:.1f} MB (five turns into a conversation each, as loaded from the "
             f"store). hipbot ask --jsonl peak RSS: {one_session / MB:.0f} MB for one "
             f"session, {many_sessions / MB:.0f} MB for 10,000 sessions, so about "
             f"{(many_sessions - one_session) / MB:.1f} MB per 10,000 sessions. 1 MB = 10^6 bytes.",
        checks=[
            Check(f"store shutdown at {largest.stored:,} stored chats", f"{largest.shutdown_seconds:.2f} s",
                  f"≤ {SHUTDOWN_TARGET:g} s", largest.shutdown_seconds <= SHUTDOWN_TARGET),
            Check(f"event-loop stall while the store writes ({TYPICAL_CHANGED:,} changed)",
                  f"{worst_stall * 1000:.1f} ms", f"≤ {STALL_TARGET * 1000:.0f} ms", worst_stall <= STALL_TARGET),
        ],
    )
