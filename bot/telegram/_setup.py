"""Set-up around the bot: the private persistence file, default paths, logging, /about and group mentions."""

from __future__ import annotations

import functools
import logging
import os
import pickle
import re
import time
from pathlib import Path
from typing import Any

from telegram import Message
from telegram.ext import PersistenceInput, PicklePersistence

from .._corpus import _front_matter
from .._engine import default_engine

PERSIST_EVERY_SECONDS = 10
logger = logging.getLogger("bot.telegram")

_EMPTY_STORE = {"conversations": {}, "user_data": {}, "chat_data": {}, "bot_data": {}, "callback_data": None}


def private_persistence(path: Path) -> PicklePersistence[Any, Any, Any]:
    """PicklePersistence of chat_data only, in a file created with mode 0600 (it holds health data).
    A store that cannot be read (corrupt, truncated, empty, foreign) is moved aside, kept, and
    the bot starts with an empty one. An unusable path raises OSError."""
    path = path.expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists() and not _readable_store(path):
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        os.replace(path, aside)
        logger.warning("The conversation store %s could not be read; it was moved to %s and a new one started.", path, aside)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:  # an empty store in PTB's format: PTB then rewrites the file in place, keeping its mode
        with os.fdopen(descriptor, "wb") as file:
            pickle.dump(_EMPTY_STORE, file)
    path.chmod(0o600)
    return PicklePersistence(
        path, store_data=PersistenceInput(bot_data=False, user_data=False, callback_data=False),
        update_interval=PERSIST_EVERY_SECONDS,
    )


def _readable_store(path: Path) -> bool:
    """Whether the file is a store this bot wrote (a pickled dict with PTB's keys)."""
    try:
        with path.open("rb") as file:
            data = pickle.load(file)  # noqa: S301 - our own 0600 file, never user input
    except Exception:  # noqa: BLE001 - truncated or foreign files raise many kinds of error
        return False
    return isinstance(data, dict) and isinstance(data.get("chat_data", {}), dict)


def default_persistence_path() -> Path:
    """$XDG_STATE_HOME/hipbot/telegram.pickle, by default ~/.local/state/hipbot/telegram.pickle."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "hipbot" / "telegram.pickle"


def file_url_for(base_url: str) -> str:
    """The file URL matching a Bot API base URL: .../bot -> .../file/bot."""
    head, bot, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if bot else base_url


def configure_logging(token: str) -> None:
    """INFO logging to stderr, with the token masked should any library ever log it."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_TokenMask(token))


class _TokenMask(logging.Filter):
    """Replaces the bot token in log records."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


@functools.cache
def about_text() -> str:
    """Title, author and attribution of the source article, from the corpus front matter."""
    chunk = default_engine().chunks[0]
    meta = _front_matter(Path(chunk.source).read_text(encoding="utf-8"), chunk.source)[0]
    parts = [f"Source: “{chunk.document}”" + (f"\nby {meta['author']}" if meta.get("author") else "")]
    if meta.get("attribution"):
        parts.append(str(meta["attribution"]).strip())
    parts.append("hipbot only condenses this article: it is not medical advice and cannot diagnose.")
    return "\n\n".join(parts)


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
