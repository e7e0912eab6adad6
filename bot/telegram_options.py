"""Command-line options of `hipbot telegram` (kept apart so `hipbot ask` never imports telegram)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._errors import DataError


def add_telegram_arguments(parser: argparse.ArgumentParser) -> None:
    """Polling by default; --webhook URL for webhook mode; --base-url for a local Bot API server."""
    parser.add_argument("--webhook", metavar="URL", help="public HTTPS URL for webhook mode (default: long polling); "
                        "the secret token comes from TELEGRAM_WEBHOOK_SECRET or is generated")
    parser.add_argument("--listen", default="127.0.0.1", help="address the webhook server listens on")
    parser.add_argument("--port", type=int, default=8443, help="port the webhook server listens on")
    parser.add_argument("--base-url", help="Bot API base URL, e.g. http://127.0.0.1:8081/bot (default: Telegram's)")
    parser.add_argument("--base-file-url", help="Bot API file URL (default: derived from --base-url, .../file/bot)")
    parser.add_argument("--persistence", type=Path, help="SQLite file that keeps each chat's conversation across "
                        "restarts (default: $XDG_STATE_HOME/hipbot/telegram.sqlite3, "
                        "i.e. ~/.local/state/hipbot/telegram.sqlite3)")
    parser.add_argument("--retention-days", type=_days, default=os.environ.get("HIPBOT_RETENTION_DAYS", "30"),
                        help="forget conversations idle for this many days (default 30, or $HIPBOT_RETENTION_DAYS)")
    parser.add_argument("--no-persistence", action="store_true", help="keep conversations in memory only")
    parser.add_argument("--no-rate-limit", action="store_true",
                        help="disable outgoing rate limiting (tests, benchmarks)")


def retention_days() -> float:
    """$HIPBOT_RETENTION_DAYS (default 30) for stores opened outside `hipbot telegram`; DataError if bad."""
    try:
        return _days(os.environ.get("HIPBOT_RETENTION_DAYS") or "30")
    except argparse.ArgumentTypeError as exc:
        raise DataError("HIPBOT_RETENTION_DAYS", "", str(exc)) from None


def _days(text: str) -> float:
    """A positive number of days."""
    try:
        days = float(text)
    except ValueError:
        days = 0.0
    if not days > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {text!r}")
    return days
