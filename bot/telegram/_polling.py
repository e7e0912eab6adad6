"""Long polling with at-least-once handling: an update is acknowledged to Telegram only once it is handled.

getUpdates has one cursor, `offset`: asking with offset N tells Telegram that every update below N is
done, and Telegram never sends those again. PTB's Updater moves the offset as soon as a batch is fetched
and queues the batch in memory without a bound, so a crash or a stop loses whatever was fetched but not
yet answered. Here:

* the offset sent is the lowest update still in hand (or one past the last fetched), so nothing is
  acknowledged before it is handled; updates fetched again while in hand or already handled are skipped;
* at most `limit` updates (100, one getUpdates batch) are in hand at once;
* the conversation store is written before the offset moves, and each chat remembers the last update
  handled, so an update Telegram sends again after a crash is recognised and not answered twice;
* at stop, fetching stops at once and what is in hand gets `budget` seconds (8) to finish; the rest is
  left unacknowledged, and Telegram sends it again to the next start.

Each update is parsed on its own: one the library cannot parse is logged as one line (its update_id
and the error's type, never its content), acknowledged with the rest, and the other chats go on.
Failed polls back off from 0.5 s to 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import Application

logger = logging.getLogger("bot.telegram")

App = Application[Any, Any, Any, Any, Any, Any]

POLL_TIMEOUT = 10  # seconds a getUpdates call waits on Telegram's side for an update
BATCH = 100  # updates per getUpdates call (Telegram's maximum), and the most in hand at once
STOP_BUDGET = 8.0  # seconds to finish the updates in hand at stop (systemd and compose kill after 15)
BUSY_WAIT = 0.5  # seconds between polls while every update fetched is still in hand
LAST_UPDATE = "update"  # chat_data key: the last update_id handled in the chat
LAST_UPDATE_AT = "update_at"  # chat_data key: when it was handled
# Telegram keeps an update for 24 hours, so only then can it come again; and after a week without any update
# it may start its ids afresh, lower: an older record must not make a new update look like a duplicate.
REDELIVERY_WINDOW = 86400.0
# The raw call: Bot.get_updates parses a batch as a whole, which is what goes wrong. Bot API method names
# are case-insensitive; the lower-case spelling keeps PTB from suggesting Bot.get_updates instead.
GET_UPDATES = "getupdates"
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


def parse_update(update_id: int, item: dict[str, Any], application: App) -> Update | None:
    """The update, or None (logged as one line without its content) when the library cannot parse it."""
    try:
        update = Update.de_json(item, application.bot)
        message = update.effective_message
        if message is not None and message.chat is None:  # the library lets it through; handlers need it
            raise KeyError("chat")
    except Exception as exc:  # noqa: BLE001 - whatever the library chokes on, the other chats go on
        logger.warning("Skipped update %d: it could not be parsed (%s).", update_id, type(exc).__name__)
        return None
    return update


class Dispatcher:
    """Runs an update through the Application (its per-chat ordering included) and records it in the
    chat's data, so an update delivered again after a restart is recognised and not answered twice."""

    def __init__(self, application: App, clock: Callable[[], float] = time.time) -> None:
        self.application = application
        self.clock = clock
        self.duplicates = 0

    async def handle(self, update: Update) -> None:
        """Handle `update` unless its chat already handled it; handler errors go to the error handler."""
        if self._handled_before(update):
            self.duplicates += 1
            logger.info("Update %d was handled before a restart; it is not answered again.", update.update_id)
            return
        application = self.application
        await application.update_processor.process_update(update, application.process_update(update))
        self._record(update)

    def _handled_before(self, update: Update) -> bool:
        chat = update.effective_chat
        data = self.application.chat_data.get(chat.id) if chat is not None else None
        if not data:
            return False
        last, at = data.get(LAST_UPDATE), data.get(LAST_UPDATE_AT)
        return (isinstance(last, int) and isinstance(at, (int, float)) and update.update_id <= last
                and self.clock() - at < REDELIVERY_WINDOW)

    def _record(self, update: Update) -> None:
        """Remember the update in its chat's data (only in chats where the bot keeps a conversation)."""
        chat = update.effective_chat
        data = self.application.chat_data.get(chat.id) if chat is not None else None
        if chat is None or not data:
            return
        data[LAST_UPDATE] = update.update_id if not self._handled_before(update) else data[LAST_UPDATE]
        data[LAST_UPDATE_AT] = self.clock()
        self.application.mark_data_for_update_persistence(chat_ids=chat.id)


class Poller:
    """Fetches updates with getUpdates, hands each to the Dispatcher, and acknowledges only what is handled."""

    def __init__(self, application: App, allowed_updates: Sequence[str], *, timeout: float = POLL_TIMEOUT,
                 limit: int = BATCH, budget: float = STOP_BUDGET) -> None:
        self.application = application
        self.dispatcher = Dispatcher(application)
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        self.limit = limit
        self.budget = budget
        self.acknowledged = 0  # the offset Telegram was last given: every update below it is done
        self.skipped = 0  # updates that could not be parsed
        self.unfinished = 0  # updates in hand when the stop budget ran out (left for Telegram to send again)
        self._next = 0  # one past the highest update_id fetched
        self._in_hand: dict[int, asyncio.Task[None]] = {}
        self._done: set[int] = set()  # handled (or skipped) at or above the acknowledged offset
        self._changed = asyncio.Event()  # an update in hand finished
        self._failures = 0
        self._final: int | None = None  # the offset to acknowledge at stop
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def offset(self) -> int:
        """What may be acknowledged now: the lowest update still in hand, else one past the last fetched."""
        return min(self._in_hand) if self._in_hand else max(self._next, self.acknowledged)

    @property
    def in_hand(self) -> int:
        return len(self._in_hand)

    def start(self) -> None:
        """Poll in a background task until `stop()`."""
        self._task = asyncio.create_task(self.run(self._stop), name="hipbot:polling")

    async def wait(self, stop: asyncio.Event) -> None:
        """Wait until `stop` is set or polling ends on its own (InvalidToken is raised here)."""
        assert self._task is not None
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({self._task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if self._task.done():
            self._task.result()

    async def stop(self) -> None:
        """Stop fetching at once (a poll in progress is abandoned: what it fetched is not acknowledged), give
        the updates in hand `budget` seconds, and cancel the rest, which stay unacknowledged."""
        self._stop.set()
        if self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await self._task
        if self._in_hand:
            await asyncio.wait(list(self._in_hand.values()), timeout=self.budget)
        self._final = self.offset
        left = list(self._in_hand.values())
        if left:
            self.unfinished = len(left)
            logger.warning("Stopped with %d updates unfinished; Telegram will send them again.", len(left))
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)

    async def acknowledge(self) -> None:
        """At stop, after the conversation store was written: tell Telegram what was handled."""
        offset = self.offset if self._final is None else self._final
        if offset <= self.acknowledged:
            return
        try:
            await self.application.bot.do_api_request(
                GET_UPDATES, api_kwargs={"offset": offset, "limit": 1, "timeout": 0,
                                         "allowed_updates": self.allowed_updates})
            self.acknowledged = offset
        except TelegramError as exc:
            logger.warning("Could not acknowledge the last updates (%s); Telegram will send them again.",
                           type(exc).__name__)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; InvalidToken (the token revoked while running) is raised."""
        while not stop.is_set():
            poll = asyncio.ensure_future(self.poll_once())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not poll.done():
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll
                return
            delay = poll.result()
            if delay:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    async def poll_once(self) -> float:
        """Write what was handled to the store, acknowledge it and fetch more (all in one getUpdates call);
        returns how long to pause before the next call."""
        if len(self._in_hand) >= self.limit:  # the bound: wait until something in hand finishes
            await self._finished_or(None)
            return 0.0
        offset = self.offset
        if offset > self.acknowledged:
            await self.application.update_persistence()  # first durable, then acknowledged
        try:
            raw = await self.application.bot.do_api_request(
                GET_UPDATES, api_kwargs={"offset": offset, "limit": self.limit,
                                         "timeout": 0 if self._in_hand else self.timeout,
                                         "allowed_updates": self.allowed_updates},
                read_timeout=self.timeout + 10,
            )
        except InvalidToken:
            raise
        except TelegramError as exc:
            return self._failed(exc)
        if not isinstance(raw, list):
            return self._failed(TypeError("getUpdates did not return a list"))
        self._failures = 0
        self.acknowledged = max(self.acknowledged, offset)
        self._done = {u for u in self._done if u >= self.acknowledged}
        fresh = 0
        for item in raw:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int) or update_id in self._in_hand or update_id in self._done:
                if not isinstance(update_id, int) or isinstance(update_id, bool):
                    self.skipped += 1
                    logger.warning("Skipped an update without an update_id from getUpdates.")
                continue
            fresh += 1
            self._next = max(self._next, update_id + 1)
            update = self._parse(update_id, item)
            if update is None:
                self._done.add(update_id)
            else:
                self._in_hand[update_id] = asyncio.create_task(self._handle(update_id, update))
        if not fresh and self._in_hand:  # only updates still in hand came back: wait a little for them
            await self._finished_or(BUSY_WAIT)
        return 0.0

    async def _finished_or(self, timeout: float | None) -> None:
        self._changed.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def _handle(self, update_id: int, update: Update) -> None:
        try:
            await self.dispatcher.handle(update)
        except asyncio.CancelledError:  # the stop budget ran out: left unacknowledged
            self._in_hand.pop(update_id, None)
            raise
        except Exception as exc:  # noqa: BLE001 - handler errors already went to the error handler
            logger.error("Update %d could not be handled (%s).", update_id, type(exc).__name__)
        self._in_hand.pop(update_id, None)
        self._done.add(update_id)
        self._changed.set()

    def _parse(self, update_id: int, item: dict[str, Any]) -> Update | None:
        update = parse_update(update_id, item, self.application)
        self.skipped += update is None
        return update

    def _failed(self, error: Exception) -> float:
        """Log one line and return the pause before the next attempt: 0.5 s, doubling up to 30 s."""
        delay: float = min(MAX_BACKOFF, FIRST_BACKOFF * 2**self._failures)
        self._failures += 1
        why = "another getUpdates request (a second instance?)" if isinstance(error, Conflict) else type(error).__name__
        logger.warning("Polling for updates failed (%s), retrying in %.1f s.", why, delay)
        return delay
