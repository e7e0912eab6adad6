"""Sending to the Bot API: retries with backoff, HTML rendering, splitting long texts, suggestion keyboards."""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

T = TypeVar("T")

logger = logging.getLogger("bot.telegram")

SEND_ATTEMPTS = 4
BACKOFF_SECONDS = 0.5
HEADLINE_MAX = 100


async def send_text(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None,
                    quote: int | None = None) -> None:
    """Send `text` as HTML in as many messages as it needs; only the last one carries `markup`."""
    parts = render(text)
    for number, part in enumerate(parts, start=1):
        quoted = ReplyParameters(quote, allow_sending_without_reply=True) if quote and number == 1 else None
        last = number == len(parts)
        await retrying(functools.partial(
            bot.send_message, chat_id, part, parse_mode=ParseMode.HTML,
            reply_markup=markup if last else None, reply_parameters=quoted,
        ))


async def retrying(call: Callable[[], Awaitable[T]]) -> T:
    """Await `call()`, retrying flood waits (429), timeouts and server errors with backoff.

    Delivery is at least once: a request that timed out may still have reached Telegram.
    """
    for attempt in range(SEND_ATTEMPTS - 1):
        try:
            return await call()
        except BadRequest:
            raise
        except (RetryAfter, NetworkError) as exc:
            delay = max(BACKOFF_SECONDS * 2**attempt, _retry_after(exc))
            logger.warning("Bot API call failed (%s), retrying in %.1f s", type(exc).__name__, delay)
        await asyncio.sleep(delay)
    return await call()


def _retry_after(error: TelegramError) -> float:
    """The wait a flood-control error asks for, in seconds (0 for other errors)."""
    if not isinstance(error, RetryAfter):
        return 0.0
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


async def quietly(call: Awaitable[Any]) -> None:
    """Await a cosmetic call (typing action, callback answer) whose failure must not stop the reply."""
    try:
        await call
    except TelegramError as exc:
        logger.warning("Optional Bot API call failed: %s", type(exc).__name__)


def render(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """`text` as HTML messages of at most `limit` visible characters; a short first line is bold."""
    parts = split_text(text if text.strip() else "…", limit)
    rendered = [html.escape(part, quote=False) for part in parts]
    headline, newline, rest = parts[0].partition("\n")
    if newline and len(headline) <= HEADLINE_MAX:
        rendered[0] = f"<b>{html.escape(headline, quote=False)}</b>\n{html.escape(rest, quote=False)}"
    return rendered


def split_text(text: str, limit: int, separators: tuple[str, ...] = ("\n\n", "\n")) -> list[str]:
    """Cut `text` into pieces of at most `limit` UTF-16 units: at blank lines, then lines, then anywhere."""
    if _units(text) <= limit:
        return [text]
    if not separators:
        return _hard_cut(text, limit)
    separator, finer = separators[0], separators[1:]
    parts: list[str] = []
    current = ""
    for piece in text.split(separator):
        joined = f"{current}{separator}{piece}" if current else piece
        if _units(joined) <= limit:
            current = joined
            continue
        if current.strip():
            parts.append(current)
        *done, current = split_text(piece, limit, finer)
        parts.extend(done)
    if current.strip():
        parts.append(current)
    return parts


def _hard_cut(text: str, limit: int) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        width = _units(char)
        if size + width > limit:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    return parts + ["".join(current)]


def _units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def keyboard(suggestions: tuple[str, ...], generation: int, feedback: bool = False) -> InlineKeyboardMarkup | None:
    """One button per suggestion, then 👍 / 👎 if `feedback`; callback data ("s:<generation>:<index>",
    "f:<generation>:up|down") stays far below Telegram's 64 bytes."""
    rows = [[InlineKeyboardButton(text, callback_data=f"s:{generation}:{index}")]
            for index, text in enumerate(suggestions)]
    if feedback:
        rows.append([InlineKeyboardButton("👍", callback_data=f"f:{generation}:up"),
                     InlineKeyboardButton("👎", callback_data=f"f:{generation}:down")])
    return InlineKeyboardMarkup(rows) if rows else None
