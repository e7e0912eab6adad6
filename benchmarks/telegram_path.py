"""Replies per second through the real Telegram adapter, polling a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from bot import Engine
from bot.telegram import build_application, polling

from .common import TOKEN, Check, Table, fake_bot_api, verdict

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
