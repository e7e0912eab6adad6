"""Replies per second through the real Telegram adapter, polling a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import Engine
from bot.telegram import build_application, polling

from .common import TOKEN, Check, Table, fake_bot_api, hipbot, verdict
from .report import console

TELEGRAM_CAP = 30  # messages per second Telegram lets one bot send (its broadcast limit)
HEADROOM_TARGET = 100
MAX_TEXT = 4096
WARMUP_CHAT = 1_000_000


def sendable(engine: Engine, texts: Sequence[str]) -> list[str]:
    """Texts a user can send (non-empty, ≤ 4096 characters) that get exactly one text reply (no picture)."""
    return [t for t in dict.fromkeys(texts) if t.strip() and len(t) <= MAX_TEXT and not engine.answer(t).picture]


def replies_per_second(texts: Sequence[str], messages: int, chats: int) -> float:
    """Push `messages` from `chats` chats at once; replies per second until the last one is recorded."""
    return asyncio.run(_replies_per_second(texts, messages, chats))


async def _replies_per_second(texts: Sequence[str], messages: int, chats: int) -> float:
    async with fake_bot_api().FakeBotAPI(TOKEN) as api:
        application = build_application(TOKEN, base_url=api.base_url, persistence=None, rate_limit=False)
        async with polling(application):
            await _round(api, [(WARMUP_CHAT + n, texts[n % len(texts)]) for n in range(min(chats, 50))])
            seconds = await _round(api, [(1 + n % chats, texts[n % len(texts)]) for n in range(messages)])
    return messages / seconds


async def _round(api: Any, items: Sequence[tuple[int, str]]) -> float:
    """Push every (chat, text) at once and wait until each has its reply; seconds taken."""
    wanted = len(api.sent) + len(items)
    start = time.perf_counter()
    for chat, text in items:
        api.push_message(chat, text)
    await api.wait_for(lambda: len(api.sent) >= wanted, timeout=max(60.0, len(items) / 10))
    return time.perf_counter() - start


def telegram_table(rate: float, messages: int, chats: int) -> Table:
    """Replies per second beside Telegram's cap, as a headroom factor."""
    headroom = rate / TELEGRAM_CAP
    met = headroom >= HEADROOM_TARGET
    return Table(
        "Telegram path: build_application(rate_limit=False) against the fake Bot API",
        ("messages", "chats", "replies/s", "Telegram cap", "headroom", "target", "verdict"),
        [(str(messages), str(chats), f"{rate:.0f}", f"~{TELEGRAM_CAP}/s", f"{headroom:.1f}x",
          f"≥ {HEADROOM_TARGET}x", verdict(met))],
        note="All messages are queued at once; the clock stops when the last reply is recorded. Each reply costs two "
             "Bot API calls (sendChatAction, sendMessage) over real HTTP. The fake server shares the bot's process and "
             "event loop, so its own work is charged to the bot: the rate is a lower bound.",
        checks=[Check("Telegram replies/s vs the ~30/s cap", f"{rate:.0f}/s = {headroom:.1f}x",
                      f"≥ {HEADROOM_TARGET}x", met)],
    )


@dataclass(frozen=True)
class Delivery:
    """One stop or crash in the middle of a burst, then a restart: what happened to the messages."""

    what: str
    messages: int
    answered_before: int
    stop_seconds: float
    unfinished: int  # in hand when the stop budget ran out
    never_answered: int
    answered_twice: int
    restart_seconds: float


def delivery(store: Path, chats: int, per_chat: int, *, kill: bool, rate_limit: bool, after: int) -> Delivery:
    """Push `chats` x `per_chat` messages to a `hipbot telegram` child, stop it (SIGTERM, or SIGKILL when `kill`)
    once `after` replies went out, restart it, and count what was never answered or answered twice."""
    return asyncio.run(_delivery(store, chats, per_chat, kill=kill, rate_limit=rate_limit, after=after))


async def _delivery(store: Path, chats: int, per_chat: int, *, kill: bool, rate_limit: bool,
                    after: int) -> Delivery:
    async with fake_bot_api().FakeBotAPI(TOKEN) as api:
        first = await _bot(api, store, rate_limit)
        await api.wait_for(lambda: any(c.method == "setMyCommands" for c in api.calls), timeout=120)
        for round_ in range(per_chat):
            for chat in range(1, chats + 1):
                api.push_message(chat, PER_CHAT_TEXTS[round_ % len(PER_CHAT_TEXTS)])
        messages = chats * per_chat
        await api.wait_for(lambda: len(api.sent) >= after, timeout=600)
        started = time.perf_counter()
        if kill:
            first.kill()
        else:
            first.send_signal(signal.SIGTERM)
        _, log = await first.communicate()
        stop_seconds = time.perf_counter() - started
        answered_before = len(api.sent)
        left = re.search(rb"Stopped with (\d+) updates unfinished", log)
        second = await _bot(api, store, rate_limit=False)
        started = time.perf_counter()
        try:
            await api.wait_for(lambda: len(api.sent) >= messages and api.pending() == 0, timeout=600)
        finally:
            second.send_signal(signal.SIGTERM)
            await second.communicate()
        restart_seconds = time.perf_counter() - started
        counts = [len(api.replies(chat)) for chat in range(1, chats + 1)]
    return Delivery("kill -9" if kill else "SIGTERM", messages, answered_before, stop_seconds,
                    int(left[1]) if left else 0, sum(max(0, per_chat - n) for n in counts),
                    sum(max(0, n - per_chat) for n in counts), restart_seconds)


PER_CHAT_TEXTS = ("why does my lower back hurt on hip thrusts?", "how do I fix that?", "where should the pad sit?",
                  "how high should the bench be?", "what about my feet?")


async def _bot(api: Any, store: Path, rate_limit: bool) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *hipbot(), "telegram", "--base-url", api.base_url, "--persistence", str(store),
        *(() if rate_limit else ("--no-rate-limit",)), env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


def delivery_table(runs: Sequence[Delivery]) -> Table:
    """Messages never answered (the target: 0) and answered twice after a stop or a crash mid-burst."""
    rows: list[tuple[str, ...]] = [
        (run.what, f"{run.messages:,}", f"{run.answered_before:,}", f"{run.stop_seconds:.1f} s", str(run.unfinished),
         f"{run.never_answered:,}", f"{run.answered_twice:,}", f"{run.restart_seconds:.1f} s") for run in runs]
    return Table(
        "Telegram delivery: a stop or a crash in the middle of a burst, then a restart",
        ("stopped by", "messages", "answered before the stop", "stop took", "unfinished at stop",
         "never answered", "answered twice", "restart answered the rest in"),
        rows,
        note="`hipbot telegram` (a child process) against the fake Bot API; SIGTERM with the rate limiter on (about "
             "15 replies a second, so most of the burst is still waiting), kill -9 without it. An update is "
             "acknowledged only once handled, so whatever the stop or crash cut off is fetched again by the restart.",
        checks=[Check(f"messages never answered ({run.what})", str(run.never_answered), "0", run.never_answered == 0)
                for run in runs] + [Check(f"stop took ({run.what})", f"{run.stop_seconds:.1f} s", "< 15 s",
                                          run.stop_seconds < 15) for run in runs],
    )


def main() -> int:
    """`python -m benchmarks.telegram_path`: the delivery table (about a minute)."""
    with tempfile.TemporaryDirectory(prefix="hipbot-bench-delivery-") as folder:
        runs = [delivery(Path(folder) / "sigterm.sqlite3", 600, 1, kill=False, rate_limit=True, after=20),
                delivery(Path(folder) / "kill.sqlite3", 1000, 10, kill=True, rate_limit=False, after=2000)]
    print(console(delivery_table(runs)))
    return 0 if all(check.met for check in delivery_table(runs).checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
