"""Long polling: getUpdates in a loop of our own, so that one update the library cannot parse is skipped
instead of stopping every chat, failures back off, and no log line carries an update's content.

PTB's Updater parses a whole getUpdates batch at once: one malformed update fails the batch, which is
fetched again at once (no pause) and logged raw at CRITICAL (users' texts and names). Here each update
is parsed on its own; one that cannot be is logged as one line (its update_id and the error's type) and
acknowledged with the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import Application

logger = logging.getLogger("bot.telegram")

App = Application[Any, Any, Any, Any, Any, Any]

POLL_TIMEOUT = 10  # seconds a getUpdates call waits on Telegram's side for an update
BATCH = 100  # updates per getUpdates call (Telegram's maximum)
# The raw call: Bot.get_updates parses a batch as a whole, which is what goes wrong. Bot API method names
# are case-insensitive; the lower-case spelling keeps PTB from suggesting Bot.get_updates instead.
GET_UPDATES = "getupdates"
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


class Poller:
    """Fetches updates with getUpdates and hands each parsed one to the Application."""

    def __init__(self, application: App, allowed_updates: Sequence[str], *, timeout: float = POLL_TIMEOUT,
                 limit: int = BATCH) -> None:
        self.application = application
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        self.limit = limit
        self.offset = 0  # the next update_id wanted; everything below it is acknowledged
        self.skipped = 0  # updates that could not be parsed
        self._failures = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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
        """Stop fetching; a poll in progress is abandoned, so what it fetched is not acknowledged."""
        self._stop.set()
        if self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await self._task

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; a poll in progress is abandoned (what it fetched is not acknowledged)."""
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
            delay = poll.result()  # InvalidToken (revoked while running) is raised
            if delay:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    async def poll_once(self) -> float:
        """One getUpdates call and its updates handed over; returns how long to pause before the next."""
        try:
            raw = await self.application.bot.do_api_request(
                GET_UPDATES, api_kwargs={"offset": self.offset, "limit": self.limit, "timeout": self.timeout,
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
        for item in raw:
            update = self._parse(item)
            if update is not None:
                await self.application.update_queue.put(update)
        return 0.0

    async def acknowledge(self) -> None:
        """Tell Telegram that everything below the offset is handled (one short getUpdates call)."""
        if not self.offset:
            return
        try:
            await self.application.bot.do_api_request(
                GET_UPDATES, api_kwargs={"offset": self.offset, "limit": 1, "timeout": 0,
                                          "allowed_updates": self.allowed_updates})
        except TelegramError as exc:
            logger.warning("Could not acknowledge the last updates (%s); Telegram will send them again.",
                           type(exc).__name__)

    def _parse(self, item: object) -> Update | None:
        """The update, or None (logged without its content) when it cannot be parsed; the offset moves past it."""
        update_id = item.get("update_id") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(update_id, int) or isinstance(update_id, bool):
            self.skipped += 1
            logger.warning("Skipped an update without an update_id from getUpdates.")
            return None
        self.offset = max(self.offset, update_id + 1)
        try:
            update = Update.de_json(item, self.application.bot)
            message = update.effective_message
            if message is not None and message.chat is None:  # the library lets it through; handlers need it
                raise KeyError("chat")
        except Exception as exc:  # noqa: BLE001 - whatever the library chokes on, the other chats go on
            self.skipped += 1
            logger.warning("Skipped update %d: it could not be parsed (%s).", update_id, type(exc).__name__)
            return None
        return update

    def _failed(self, error: Exception) -> float:
        """Log one line and return the pause before the next attempt: 0.5 s, doubling up to 30 s."""
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2**self._failures)
        self._failures += 1
        why = "another getUpdates request (a second instance?)" if isinstance(error, Conflict) else type(error).__name__
        logger.warning("Polling for updates failed (%s), retrying in %.1f s.", why, delay)
        return delay
