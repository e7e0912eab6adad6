"""Webhook mode: the Application behind a small tornado server that also answers `GET /healthz`.

PTB's own webhook server has no health route and logs a malformed update's content (health data);
this one checks the secret token, never logs a body, and shares the Application's start-up and
shutdown with polling mode.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import signal
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application

from ._polling import STOP_BUDGET, Dispatcher, parse_update

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_000_000
RETRY_SECONDS = 1.0
logger = logging.getLogger("bot.telegram")

App = Application[Any, Any, Any, Any, Any, Any]


@dataclass(frozen=True)
class WebhookLimits:
    """What one client may hold of the server, so slow or hostile clients cannot starve Telegram's requests
    or /healthz: seconds to send the headers (and between requests on a kept-alive connection), seconds
    to send the body, open connections (beyond it the oldest is closed), and the body's size."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections: int = 256
    max_body_bytes: int = MAX_BODY_BYTES


class CappedHTTPServer(tornado.httpserver.HTTPServer):
    """tornado's HTTP server with a cap on open connections: a new one closes the oldest at the cap, so
    connections that never finish their request (slowloris) make room instead of refusing newcomers."""

    def initialize(self, *args: Any, max_connections: int = 256, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self._streams: dict[Any, None] = {}  # open streams, oldest first
        self.evicted = 0

    def handle_stream(self, stream: Any, address: tuple[Any, ...]) -> None:
        for old in [s for s in self._streams if s.closed()]:
            del self._streams[old]
        while len(self._streams) >= self.max_connections:
            oldest = next(iter(self._streams))
            del self._streams[oldest]
            oldest.close()
            self.evicted += 1
        self._streams[stream] = None
        super().handle_stream(stream, address)


async def serve_webhook(application: App, *, url: str, listen: str, port: int, secret: str, retries: int,
                        allowed_updates: list[str], stop: asyncio.Event | None = None,
                        limits: WebhookLimits = WebhookLimits()) -> None:
    """Initialise, register the webhook, serve until SIGINT/SIGTERM (or `stop`), then shut down cleanly.

    Bot API failures at start-up are retried `retries` times (a rejected token is not) and then raised;
    OSError when the port cannot be opened."""
    stop = stop or stop_on_signals()
    handling = Handling(Dispatcher(application))
    server = CappedHTTPServer(web_app(application, urlsplit(url).path, secret, handling, limits.max_body_bytes),
                              max_connections=limits.max_connections, max_body_size=limits.max_body_bytes,
                              idle_connection_timeout=limits.header_timeout, body_timeout=limits.body_timeout)
    await with_retries(application.initialize, retries)
    try:
        server.listen(port, listen)  # before setWebhook, so Telegram's first delivery finds us
        if application.post_init is not None:
            await application.post_init(application)
        await with_retries(lambda: application.bot.set_webhook(
            url, secret_token=secret, allowed_updates=allowed_updates, drop_pending_updates=False), retries)
        await application.start()
        await stop.wait()
    finally:
        server.stop()  # no new connections; the updates being handled get the stop budget
        await handling.finish(STOP_BUDGET)
        await server.close_all_connections()
        if application.running:
            await application.stop()
        await application.shutdown()  # writes the conversation store one last time
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


class Handling:
    """The updates being handled for webhook requests: each request is answered (acknowledged) only once
    its update is handled and written to the store, so Telegram sends again what a crash or stop cut off."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, update: Update) -> bool:
        """Handle `update` and make it durable; False when stopping cut it off (then it is not acknowledged)."""
        if self.stopping:
            return False
        task = asyncio.ensure_future(self.dispatcher.handle(update))
        self._tasks.add(task)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            return False
        finally:
            self._tasks.discard(task)
        await self.dispatcher.application.update_persistence()
        return True

    async def finish(self, budget: float) -> None:
        """At stop: refuse new updates, give those in hand `budget` seconds, cancel the rest."""
        self.stopping = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=budget)
        left = [task for task in self._tasks if not task.done()]
        if left:
            logger.warning("Stopped with %d updates unfinished; Telegram will send them again.", len(left))
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)


def web_app(application: App, path: str, secret: str, handling: Handling | None = None,
            max_body_bytes: int = MAX_BODY_BYTES) -> tornado.web.Application:
    """The routes: POST updates to `path` (with the secret token), GET /healthz."""
    route = re.escape("/" + path.strip("/")) + "/?"
    handling = handling or Handling(Dispatcher(application))
    return tornado.web.Application([
        (route, UpdateHandler, {"bot_app": application, "secret": secret, "handling": handling,
                                "max_body_bytes": max_body_bytes}),
        (r"/healthz", HealthHandler, {"bot_app": application}),
    ], log_function=lambda handler: None)  # request lines carry nothing useful; bodies are health data


@tornado.web.stream_request_body
class UpdateHandler(tornado.web.RequestHandler):
    """Telegram's POSTs: 403 without the secret token (decided on the headers, before any of the body is
    read), 413 for a body over the limit, 400 for a body that is not an update."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, bot_app: App, secret: str, handling: Handling, max_body_bytes: int) -> None:
        self.bot_app = bot_app
        self.secret = secret
        self.handling = handling
        self.max_body_bytes = max_body_bytes
        self.body = bytearray()

    async def prepare(self) -> None:
        """Check the secret and the declared size from the headers alone."""
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            await self._refuse(HTTPStatus.FORBIDDEN)
            return
        declared = self.request.headers.get("Content-Length", "0")
        if not declared.isdigit() or int(declared) > self.max_body_bytes:
            await self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    async def data_received(self, chunk: bytes) -> None:
        """Collect the body (chunked bodies too), never past the limit."""
        if self._finished:
            return
        self.body += chunk
        if len(self.body) > self.max_body_bytes:
            self.body = bytearray()
            await self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    async def _refuse(self, status: HTTPStatus) -> None:
        """Answer `status` and close the connection, so the rest of the body is never read."""
        self.set_status(status)
        self.set_header("Connection", "close")
        await self.finish()
        close = getattr(self.request.connection, "close", None)  # HTTP1Connection.close: the stream too
        if close is not None:
            close()

    async def post(self) -> None:
        """Handle the update, then answer 200 (Telegram's acknowledgment); the body itself is never logged.
        An update the library cannot parse is skipped (one log line) and acknowledged."""
        try:
            item = json.loads(self.body)
        except ValueError:
            item = None
        update_id = item.get("update_id") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(update_id, int):
            logger.warning("Rejected a webhook request whose body is not an update.")
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST)
        update = parse_update(update_id, item, self.bot_app)
        if update is not None and not await self.handling.handle(update):  # stopping: sent again later
            raise tornado.web.HTTPError(HTTPStatus.SERVICE_UNAVAILABLE)


class HealthHandler(tornado.web.RequestHandler):
    """GET /healthz: 200 with the bot's username once it is running, 503 before and after."""

    SUPPORTED_METHODS = ("GET",)

    def initialize(self, bot_app: App) -> None:
        self.bot_app = bot_app

    def get(self) -> None:
        """The readiness of the bot as JSON."""
        ready = self.bot_app.running
        self.set_status(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE)
        self.finish({"ok": ready, "bot": self.bot_app.bot.username if ready else None})


async def with_retries(action: Any, retries: int) -> None:
    """Await `action()`, retrying network failures `retries` times with a growing pause."""
    for attempt in range(retries + 1):
        try:
            await action()
            return
        except InvalidToken:
            raise
        except NetworkError:
            if attempt == retries:
                raise
            await asyncio.sleep(RETRY_SECONDS * (attempt + 1))


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (as systemctl stop and docker stop send)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    return stop
