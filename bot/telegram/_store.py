"""The conversation store: each chat's data as one JSON row in SQLite, written in batches off the event loop.

PTB hands changed chats over every `update_interval` seconds and once more at shutdown; they are
written in one transaction (WAL, fsync on commit), so a kill at any moment leaves the last batch
or the one before, never a broken file. Chats idle for longer than the retention are dropped.
A batch that cannot be written (disk full, I/O error) is kept and retried with back-off; a chat
whose id or data cannot be stored at all is logged (without content) and skipped, not its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from telegram.ext import BasePersistence, PersistenceInput

from .._model import DAY
from .._sqlite import columns, create_private, has_header, keep_private, sidecars

logger = logging.getLogger("bot.telegram")

ChatData = dict[str, Any]
SCHEMA = "CREATE TABLE IF NOT EXISTS chats (id INTEGER PRIMARY KEY, data TEXT NOT NULL, touched REAL NOT NULL)"
INDEX = "CREATE INDEX IF NOT EXISTS chats_touched ON chats (touched)"
FIRST_RETRY = 1.0  # seconds before a failed batch is written again, doubling up to MAX_RETRY
MAX_RETRY = 60.0
SQLITE_INTEGERS = range(-(2**63), 2**63)


class ChatStore(BasePersistence[dict[Any, Any], ChatData, dict[Any, Any]]):
    """PTB persistence of chat_data only, in a private (0600) SQLite file.

    Raises OSError when the path cannot be used; a file that is not such a store is moved aside.
    """

    def __init__(self, path: Path, *, retention_days: float = 30.0, update_interval: float = 10.0,
                 clock: Callable[[], float] = time.time, first_retry: float = FIRST_RETRY) -> None:
        super().__init__(PersistenceInput(bot_data=False, user_data=False, callback_data=False), update_interval)
        self.path = path.expanduser()
        self.retention = retention_days * DAY
        self.clock = clock
        self._lock_file = _lock(self.path)  # before anything reads, moves or creates the store
        try:
            self._db = _connect(self.path)
        except BaseException:
            self._lock_file.close()
            raise
        self._pending: dict[int, ChatData | None] = {}  # None: drop the chat
        self._lock = asyncio.Lock()
        self._db_guard = threading.Lock()  # a write in its thread and the close at shutdown never overlap
        self.first_retry = first_retry
        self._failures = 0
        self._retry: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # set at flush: a retry waiting for its time writes at once
        self._closing = False
        self._writing = 0  # chats in the batch being written
        self.skipped = 0  # chats that could not be stored at all (an id SQLite cannot hold, data JSON cannot)
        self.unsaved = 0  # chats still unwritten when the store was closed

    @property
    def pending(self) -> int:
        """Chats changed but not written yet (including a failed batch waiting for its retry)."""
        return len(self._pending) + self._writing

    async def get_chat_data(self) -> dict[int, ChatData]:
        """The chats touched within the retention period (older ones are deleted first)."""
        return await asyncio.to_thread(self._load)

    async def update_chat_data(self, chat_id: int, data: ChatData) -> None:
        """Queue the chat; PTB calls this for every changed chat at once, and one transaction writes them all."""
        self._pending[chat_id] = data
        await asyncio.sleep(0)  # let the rest of PTB's batch queue up behind this one
        await self._write_pending()

    async def drop_chat_data(self, chat_id: int) -> None:
        """Queue the chat's removal."""
        self._pending[chat_id] = None
        await asyncio.sleep(0)
        await self._write_pending()

    async def flush(self) -> None:
        """Write what is queued and close the file (PTB calls this at shutdown). What still cannot be
        written is counted in `unsaved` and logged; `hipbot telegram` then exits non-zero."""
        self._closing = True
        if self._retry is not None and not self._retry.done():
            self._wake.set()
            await self._retry
        await self._write_pending()
        async with self._lock:
            self.unsaved = len(self._pending)
            if self.unsaved:
                logger.error("%d conversations could not be saved to %s.", self.unsaved, self.path)
            with self._db_guard:  # a write whose awaiting task was cancelled may still be running in its thread
                self._db.close()
        self._lock_file.close()

    async def _write_pending(self) -> None:
        if not self._pending:  # already taken by a batch; flush() waits for that batch through the lock
            return
        async with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, {}
            self._writing = len(batch)
            try:
                await asyncio.to_thread(self._write, batch)
            except sqlite3.Error as exc:
                self._pending = {**batch, **self._pending}  # kept for the retry; changes made since win
                self._failed(exc)
            else:
                self._failures = 0
            finally:
                self._writing = 0

    def _failed(self, error: sqlite3.Error) -> None:
        """Log one line (no content) and write the kept batch again later: 1 s, doubling up to a minute."""
        delay = min(MAX_RETRY, self.first_retry * 2**self._failures)
        self._failures += 1
        if self._closing:
            logger.warning("Could not write %d conversations to %s (%s: %s).",
                           len(self._pending), self.path, type(error).__name__, error)
            return
        logger.warning("Could not write %d conversations to %s (%s: %s); retrying in %.1f s.",
                       len(self._pending), self.path, type(error).__name__, error, delay)
        if self._retry is None or self._retry.done() or self._retry is asyncio.current_task():
            self._retry = asyncio.create_task(self._retry_after(delay))

    async def _retry_after(self, delay: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        await self._write_pending()

    def _write(self, batch: dict[int, ChatData | None]) -> None:
        now = self.clock()
        kept, dropped, skipped = [], [], 0
        for chat, data in batch.items():
            if not isinstance(chat, int) or chat not in SQLITE_INTEGERS:
                skipped += 1
            elif data is None:
                dropped.append((chat,))
            else:
                try:
                    kept.append((chat, json.dumps(data, separators=(",", ":")), now))
                except (TypeError, ValueError):  # not JSON: a value the handlers should never have put there
                    skipped += 1
        if skipped:
            self.skipped += skipped
            logger.warning("Skipped %d conversations that cannot be stored (an id or data SQLite/JSON cannot "
                           "hold).", skipped)
        with self._db_guard, self._db:
            self._db.executemany("INSERT OR REPLACE INTO chats (id, data, touched) VALUES (?, ?, ?)", kept)
            self._db.executemany("DELETE FROM chats WHERE id = ?", dropped)
            self._db.execute("DELETE FROM chats WHERE touched < ?", (now - self.retention,))

    def _load(self) -> dict[int, ChatData]:
        now = self.clock()
        with self._db:
            self._db.execute("DELETE FROM chats WHERE touched < ?", (now - self.retention,))
        chats, skipped = {}, 0
        for chat, text, touched in self._db.execute("SELECT id, data, touched FROM chats"):
            data = read_chat(text)
            if isinstance(data, dict):
                data.setdefault("seen", touched)
                chats[chat] = data
            else:
                skipped += 1
        if skipped:
            logger.warning("Skipped %d unreadable conversations in %s.", skipped, self.path)
        return chats

    # The rest of PTB's interface: nothing but chat data is kept.
    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        """Not stored."""
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        """Not stored."""
        return {}

    async def get_callback_data(self) -> None:
        """Not stored."""
        return None

    async def get_conversations(self, name: str) -> dict[Any, Any]:
        """Not stored."""
        return {}

    async def update_conversation(self, name: str, key: Any, new_state: object | None) -> None:
        """Not stored."""

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        """Not stored."""

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        """Not stored."""

    async def update_callback_data(self, data: Any) -> None:
        """Not stored."""

    async def drop_user_data(self, user_id: int) -> None:
        """Not stored."""

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """Nothing to refresh."""

    async def refresh_chat_data(self, chat_id: int, chat_data: ChatData) -> None:
        """Nothing to refresh: this process is the only writer."""

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        """Nothing to refresh."""


def read_chat(text: str) -> Any:
    """One chat's data from its JSON row (None if it is not JSON), every string interned: chats share the same
    topics, intents and suggestions, and 10,000 chats loaded take about a third of the memory this way."""
    try:
        return _interned(json.loads(text))
    except (TypeError, ValueError, RecursionError):  # not text, not JSON, nested beyond reason
        return None


def _interned(value: Any) -> Any:
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, list):
        return [_interned(item) for item in value]
    if isinstance(value, dict):
        return {sys.intern(key) if isinstance(key, str) else key: _interned(item) for key, item in value.items()}
    return value


def _lock(path: Path) -> IO[str]:
    """Hold `<store>.lock` exclusively for the life of the store (the process), so a second bot on the same
    store stops at start-up instead of overwriting the first one's conversations. OSError if it is held."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    lock_path = path.with_name(path.name + ".lock")
    file = open(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600), "r+", encoding="ascii")  # noqa: SIM115
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = file.read().strip()
        file.close()
        raise OSError(f"another hipbot is using it{f' (process {holder})' if holder.isdigit() else ''}") from None
    except BaseException:
        file.close()
        raise
    file.truncate()
    file.write(str(os.getpid()))
    file.flush()
    return file


def _connect(path: Path) -> sqlite3.Connection:
    """Open (or create, mode 0600) the store, first moving aside a file that is not one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists() and not path.is_dir() and not _is_store(path):
        _move_aside(path)
    create_private(path)
    try:
        db = sqlite3.connect(path, timeout=5.0, check_same_thread=False)  # one user at a time, under a lock
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        with db:
            db.execute(SCHEMA)
            db.execute(INDEX)
    except sqlite3.Error as exc:
        raise OSError(f"not a usable SQLite file ({exc})") from exc
    keep_private(path)
    return db


def _is_store(path: Path) -> bool:
    """Whether the file is an intact SQLite database holding our table: False for a file that is really
    not one (empty, another format, corrupt, another program's tables); OSError when it cannot be
    checked at all (no permission, an I/O error, a full disk), so a healthy store is never moved aside."""
    if not has_header(path):  # OSError (permission, I/O) propagates
        return False
    try:
        db = sqlite3.connect(path, timeout=5.0)  # read-write, so a write-ahead log left by a kill is replayed
        try:
            if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
                return False
            return columns(db, "chats") == {"id", "data", "touched"}
        finally:
            db.close()
    except sqlite3.Error as exc:
        if _corrupt(exc):
            return False
        raise OSError(f"cannot check it: {exc}") from None


def _corrupt(error: sqlite3.Error) -> bool:
    """Whether SQLite says the file itself is bad (not a database, malformed), rather than that it could
    not get at it (permissions, I/O, disk full, locked)."""
    name = getattr(error, "sqlite_errorname", "")  # Python 3.11+
    if name:
        return str(name).startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT"))
    return any(words in str(error) for words in ("not a database", "malformed"))


def _move_aside(path: Path) -> None:
    """Rename the file (and any SQLite sidecars) to `<name>.unreadable-<time>`: kept, never deleted."""
    stamp = int(time.time())
    aside = path.with_name(f"{path.name}.unreadable-{stamp}")
    while aside.exists():
        stamp += 1
        aside = path.with_name(f"{path.name}.unreadable-{stamp}")
    for source in (path, *sidecars(path)):
        if source.exists():
            os.replace(source, aside.with_name(aside.name + source.name[len(path.name):]))
    logger.warning("The conversation store %s could not be read; it was moved to %s and a new one started.",
                   path, aside)

