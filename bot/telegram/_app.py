"""Building and running the application: configuration checks, polling or webhook, per-chat ordering."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import secrets
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseUpdateProcessor

from .._engine import answer as core_answer
from .._errors import InboxError
from .._model import Answer
from ..review import Inbox
from ._handlers import Handlers
from ._polling import POLL_TIMEOUT, Poller
from ._setup import NewFiles, configure_logging, default_persistence_path, file_url_for
from ._store import ChatStore
from ._webhook import serve_webhook, stop_on_signals, with_retries

TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
MAX_CONCURRENT_UPDATES = 64
RATE_LIMIT_RETRIES = 3
START_UP_RETRIES = 2
DEFAULT_RETENTION_DAYS = 30.0
REVIEW_TIMEOUT = 1.0  # seconds a review-inbox write waits for another process's lock (on its own thread)


def build_application(
    token: str,
    *,
    answer: Answer = core_answer,
    base_url: str | None = None,
    base_file_url: str | None = None,
    persistence: Path | None = None,
    retention_days: float = DEFAULT_RETENTION_DAYS,
    inbox: Inbox | None = None,
    rate_limit: bool = True,
    timeout: float = 10.0,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot as production runs it; tests point `base_url` at a fake server and inject `answer`.
    Raises OSError when the conversation store cannot be used."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token in the URL
    store = None if persistence is None else ChatStore(persistence, retention_days=retention_days)  # first: cheap
    handlers = Handlers(answer, retention_days, inbox=inbox)
    builder = (
        ApplicationBuilder()
        .token(token)
        .concurrent_updates(ChatOrderedProcessor(MAX_CONCURRENT_UPDATES))
        .connect_timeout(timeout).read_timeout(timeout).write_timeout(timeout).pool_timeout(timeout)
        .get_updates_connect_timeout(timeout).get_updates_read_timeout(timeout)
        .get_updates_write_timeout(timeout).get_updates_pool_timeout(timeout)
        .post_init(handlers.post_init)
        .post_shutdown(handlers.post_shutdown)
        .updater(None)  # polling is ours (_polling.Poller): each update parsed on its own
    )
    if base_url:
        builder.base_url(base_url).base_file_url(base_file_url or file_url_for(base_url))
    if store is not None:
        builder.persistence(store)
    if rate_limit:
        builder.rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
    application = builder.build()
    handlers.register(application)
    return application


@contextlib.asynccontextmanager
async def polling(application: Application[Any, Any, Any, Any, Any, Any], *, retries: int = 0,
                  timeout: float = 1.0, allowed_updates: list[str] = ALLOWED_UPDATES) -> AsyncIterator[Poller]:
    """Poll inside an already running event loop: initialise (Bot API failures retried `retries` times),
    start, poll while the body runs, then stop: fetching at once, the updates in hand within the poller's
    budget; what was handled is written to the store, then acknowledged (see _polling)."""
    await with_retries(application.initialize, retries)
    poller = Poller(application, allowed_updates, timeout=timeout)
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await with_retries(lambda: application.bot.delete_webhook(drop_pending_updates=False), retries)
        await application.start()
        poller.start()
        yield poller
    finally:
        await poller.stop()  # no more fetching; what is in hand gets its budget
        if application.running:
            await application.update_persistence()  # what was handled is durable before it is acknowledged
            await poller.acknowledge()
            await application.stop()
        await application.shutdown()  # writes the conversation store one last time
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


async def serve_polling(application: Application[Any, Any, Any, Any, Any, Any], *, retries: int,
                        allowed_updates: list[str], stop: asyncio.Event | None = None,
                        timeout: float = POLL_TIMEOUT) -> None:
    """Long polling until SIGINT/SIGTERM (or `stop`); InvalidToken and start-up failures are raised."""
    stop = stop or stop_on_signals()
    async with polling(application, retries=retries, timeout=timeout, allowed_updates=allowed_updates) as poller:
        await poller.wait(stop)


def run_telegram(args: argparse.Namespace) -> int:
    """Check the configuration, then serve by long polling or, with --webhook, by webhook."""
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
    problem = config_problem(token, secret, args.webhook, args.base_url)
    if problem:
        return _fail(problem, 2)
    configure_logging(token)
    persistence = None if args.no_persistence else (args.persistence or default_persistence_path()).expanduser()
    review_log = Path(args.review_log).expanduser() if args.review_log else None
    new_files = NewFiles({persistence: "chats", review_log: "questions"})  # what a failed start must not leave
    inbox = None
    try:
        inbox = (Inbox(review_log, retention_days=args.retention_days, timeout=REVIEW_TIMEOUT)
                 if review_log else None)
        application = build_application(
            token, base_url=args.base_url, base_file_url=args.base_file_url, persistence=persistence,
            retention_days=args.retention_days, inbox=inbox, rate_limit=not args.no_rate_limit,
        )
    except InboxError as exc:
        new_files.remove()
        return _fail(str(exc), 2)
    except OSError as exc:
        if inbox is not None:
            inbox.close()
        new_files.remove()
        return _fail(f"cannot use the conversation store {persistence} ({exc.strerror or exc})", 2)
    status = _serve(application, args, token, secret)
    if status is not None:  # the start failed: nothing was answered, so nothing is left behind
        store = application.persistence
        if isinstance(store, ChatStore):
            asyncio.run(store.flush())  # closes the file and its lock (again is harmless)
        if inbox is not None:
            inbox.close()
        new_files.remove()
        return status
    store = application.persistence
    if isinstance(store, ChatStore) and store.unsaved:
        return _fail(f"{store.unsaved} conversations could not be saved to {store.path} at stop", 1)
    return 0


def _serve(application: Application[Any, Any, Any, Any, Any, Any], args: argparse.Namespace, token: str,
           secret: str) -> int | None:
    """Serve until stopped; None after a clean stop, else the exit status of a failed start (said in one line)."""
    application.bot_data["mode"] = (f"webhook {args.webhook} on {args.listen}:{args.port}" if args.webhook
                                    else "long polling")
    try:
        if args.webhook:
            asyncio.run(serve_webhook(application, url=args.webhook, listen=args.listen, port=args.port,
                                      secret=secret or secrets.token_urlsafe(32), retries=START_UP_RETRIES,
                                      allowed_updates=ALLOWED_UPDATES))
        else:
            asyncio.run(serve_polling(application, retries=START_UP_RETRIES, allowed_updates=ALLOWED_UPDATES))
    except InvalidToken:
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped? check it with @BotFather)", 2)
    except BadRequest as exc:  # setWebhook refused: a URL Telegram cannot use
        return _fail(f"Telegram refused the webhook URL ({_masked(exc.message, token)})", 2)
    except NetworkError as exc:  # TimedOut included
        problem = _masked(exc.message, token)
        return _fail(f"cannot reach the Bot API, even after {START_UP_RETRIES} retries ({problem})", 1)
    except TelegramError as exc:
        return _fail(f"the Bot API failed at start-up ({_masked(exc.message, token)})", 1)
    except OSError as exc:  # e.g. the webhook port is taken
        return _fail(f"cannot listen on {args.listen}:{args.port} ({exc.strerror or type(exc).__name__})", 2)
    return None


def _fail(problem: str, status: int) -> int:
    print(f"hipbot: error: {problem}", file=sys.stderr)
    return status


def _masked(text: str, token: str) -> str:
    return text.replace(token, "<token>")


def config_problem(token: str, secret: str, webhook: str | None, base_url: str | None) -> str | None:
    """A one-line description of what is wrong with the configuration (never echoing secrets), or None."""
    if not token:
        return "TELEGRAM_BOT_TOKEN is not set (create a bot with @BotFather and export its token)"
    if not TOKEN_PATTERN.match(token):
        return "TELEGRAM_BOT_TOKEN is malformed (expected digits, a colon and 30+ letters, digits, _ or -)"
    if secret and not SECRET_PATTERN.match(secret):
        return "TELEGRAM_WEBHOOK_SECRET may only hold 1-256 letters, digits, _ and -"
    if webhook and urlsplit(webhook).scheme not in (("http", "https") if base_url else ("https",)):
        return "--webhook must be an https:// URL"
    return None


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Handles different chats concurrently but each chat's updates one at a time, in order."""

    __slots__ = ("_locks", "_users")

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await `coroutine` under its chat's lock (updates without a chat run at once)."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] += 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[chat.id] -= 1
            if not self._users[chat.id]:
                del self._users[chat.id], self._locks[chat.id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
