"""Set-up around the bot: default paths, logging and group mentions."""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

from telegram import Message, TelegramObject
from telegram.error import TelegramError

from .._knowledge import state_file


def default_persistence_path() -> Path:
    """$XDG_STATE_HOME/hipbot/telegram.sqlite3, by default ~/.local/state/hipbot/telegram.sqlite3."""
    return state_file("telegram.sqlite3")


class NewFiles:
    """The SQLite files (each with its sidecars and lock) and folders that do not exist yet, so that a
    start that fails can remove what it created: a file only while its table holds no rows."""

    def __init__(self, files: dict[Path | None, str]) -> None:
        self.files = {path: table for path, table in files.items() if path is not None and not _exists(path)}
        self.folders = sorted({folder for path in self.files for folder in path.parents if not _exists(folder)},
                              key=lambda folder: len(folder.parts), reverse=True)  # deepest first

    def remove(self) -> None:
        """Remove the files that were created and are still empty, then the created folders left empty."""
        for path, table in self.files.items():
            if _exists(path) and not _holds_rows(path, table):
                for created in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", ".lock"))):
                    with contextlib.suppress(FileNotFoundError):
                        created.unlink()
        for folder in self.folders:
            with contextlib.suppress(OSError):  # not empty (or not ours to remove): kept
                folder.rmdir()


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _holds_rows(path: Path, table: str) -> bool:
    """Whether the SQLite file has rows in `table` (True when that cannot be told: then it is kept)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return bool(db.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone() != (0,))
        finally:
            db.close()
    except (sqlite3.Error, OSError, ValueError):
        return path.is_file() and path.stat().st_size > 0


def file_url_for(base_url: str) -> str:
    """The file URL matching a Bot API base URL: .../bot -> .../file/bot."""
    head, bot, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if bot else base_url


def configure_logging(token: str) -> None:
    """INFO logging to stderr: the token masked wherever it appears, Bot API errors on one line."""
    logging.basicConfig(level=logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(SafeFormatter(token))
        handler.addFilter(_not_start_up_retries)


def _not_start_up_retries(record: logging.LogRecord) -> bool:
    """PTB's start-up retry records: `run_telegram` reports their outcome in one line of its own."""
    return not record.getMessage().startswith("Network Retry Loop (Bootstrap")


class SafeFormatter(logging.Formatter):
    """Masks the token in whole formatted records (tracebacks included) and shortens Bot API errors
    (network failures, a rejected token) to one line instead of a traceback."""

    def __init__(self, token: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.token = token

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        error = ei[1]
        if isinstance(error, TelegramError):
            return f"  {type(error).__name__}: {error.message}"
        return super().formatException(ei)

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.args, tuple) and any(isinstance(a, (TelegramObject, dict, list)) for a in record.args):
            # the library's records that would print an update or a request's parameters: users' texts and names
            record = logging.makeLogRecord({**record.__dict__, "args": tuple(
                f"<{type(a).__name__} withheld>" if isinstance(a, (TelegramObject, dict, list)) else a
                for a in record.args)})
        text = super().format(record)
        return text.replace(self.token, "<token>") if self.token else text


def addressed(message: Message, username: str, bot_id: int) -> bool:
    """Whether a group message mentions the bot or replies to one of its messages."""
    replied = message.reply_to_message
    if replied and replied.from_user and replied.from_user.id == bot_id:
        return True
    return _mention(username).search(message.text or message.caption or "") is not None


def strip_mention(text: str, username: str) -> str:
    """`text` without "@username" and the punctuation and spacing around it."""
    return re.sub(r"\s+", " ", _mention(username).sub(" ", text)).strip(" ,:;")


def _mention(username: str) -> re.Pattern[str]:
    return re.compile(rf"@{re.escape(username)}\b", re.IGNORECASE)
