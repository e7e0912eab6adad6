"""`hipbot telegram`: a thin python-telegram-bot (v22) adapter over the pure core.

Each chat's conversation state lives in `context.chat_data`, stored in a 0600 SQLite file by default.
Message text is health data: it is never logged, and neither is the bot token.
"""

from ._app import ALLOWED_UPDATES, ChatOrderedProcessor, build_application, config_problem, polling, run_telegram
from ._handlers import APOLOGY, COMMANDS, EXPIRED, NOT_TEXT, RESET, UNKNOWN_COMMAND, Handlers
from ._sending import keyboard, quietly, render, retrying, send_text, split_text
from ._setup import (
    addressed,
    configure_logging,
    default_persistence_path,
    file_url_for,
    strip_mention,
)
from ._store import ChatStore
from ._webhook import serve_webhook

__all__ = [
    "ALLOWED_UPDATES",
    "APOLOGY",
    "COMMANDS",
    "EXPIRED",
    "NOT_TEXT",
    "RESET",
    "UNKNOWN_COMMAND",
    "ChatOrderedProcessor",
    "ChatStore",
    "Handlers",
    "addressed",
    "build_application",
    "config_problem",
    "configure_logging",
    "default_persistence_path",
    "file_url_for",
    "keyboard",
    "polling",
    "quietly",
    "render",
    "retrying",
    "run_telegram",
    "send_text",
    "serve_webhook",
    "split_text",
    "strip_mention",
]
