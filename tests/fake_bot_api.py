"""A fake Telegram Bot API server (aiohttp) on 127.0.0.1 for end-to-end tests of the bot.

It serves `/bot<token>/<method>` in Telegram's shape ({"ok": true, "result": ...}), accepts JSON,
form and multipart bodies, long-polls getUpdates with offset semantics, records every call, checks
HTML parse mode like Telegram does, and can be told to fail calls (HTTP 500, 429, or a delay past
the client's timeout). Tests feed it updates with the `push_*` helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import random
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

JSON = dict[str, Any]

# Form fields that PTB sends as raw strings; every other form field is JSON-encoded.
RAW_FIELDS = {"text", "caption", "parse_mode", "url", "secret_token", "callback_query_id", "action", "data"}
HTML_TAGS = {
    "b": "bold", "i": "italic", "u": "underline", "s": "strikethrough", "code": "code", "pre": "pre", "a": "text_link",
}
HTML_TOKEN = re.compile(r'<(/?)([A-Za-z-]+)(?:\s+href="[^"<>]*")?\s*>|&(?:lt|gt|amp|quot|#\d+|#x[0-9A-Fa-f]+);|[<&]')
MAX_TEXT = 4096
FAILURES = ("500", "429", "timeout")


class ApiError(Exception):
    """An error answer: HTTP status and Telegram's description."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


@dataclass
class Call:
    """One request the bot made: method, decoded parameters and the HTTP status answered (None: no answer)."""

    method: str
    params: JSON
    status: int | None


class FakeBotAPI:
    """The fake server; use as `async with FakeBotAPI(token) as api:` and point the bot at `api.base_url`."""

    def __init__(self, token: str, username: str = "hipbot_test_bot", retry_after: int = 1, delay: float = 2.0) -> None:
        self.token = token
        self.retry_after = retry_after
        self.delay = delay
        self.me: JSON = {
            "id": int(token.split(":")[0]), "is_bot": True, "first_name": "hipbot", "username": username,
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.sent: list[JSON] = []
        self.commands: list[JSON] = []
        self.photos: list[bytes] = []
        self.webhook: JSON = {}
        self._updates: list[JSON] = []
        self.offset = 0  # the highest getUpdates offset seen: every update below it was acknowledged
        self.pushed: list[JSON] = []  # every update queued, in order
        self._chats: dict[int, JSON] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._queries: dict[str, bool] = {}
        self._failures: dict[str, list[str]] = {}
        self._random_failures: tuple[float, frozenset[str], random.Random] | None = None
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """What the bot takes as its Bot API base URL (the token is appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> FakeBotAPI:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests use -------------------------------------------------------------------------

    def fail(self, method: str, *kinds: str) -> None:
        """Make the next calls of `method` fail, one per kind: "500", "429" (retry_after) or "timeout"."""
        assert all(kind in FAILURES for kind in kinds), kinds
        self._failures.setdefault(method.lower(), []).extend(kinds)

    def fail_randomly(self, rate: float, methods: tuple[str, ...] = ("sendMessage", "sendChatAction"),
                      seed: int = 0) -> None:
        """Make each call of `methods` fail with probability `rate`, as a 500, a 429 or a time-out."""
        self._random_failures = (rate, frozenset(m.lower() for m in methods), random.Random(seed))

    def push_message(self, chat_id: int, text: str | None = None, *, group: bool = False, user_id: int | None = None,
                     reply_to: JSON | None = None, edited: bool = False, **fields: Any) -> JSON:
        """Queue a user's message (entities for /commands and @mentions are added); returns the message."""
        chat: JSON = {"id": chat_id, "type": "supergroup", "title": "Gym friends"} if group else {
            "id": chat_id, "type": "private", "first_name": "Tester"}
        self._chats[chat_id] = chat
        user = {"id": user_id or abs(chat_id), "is_bot": False, "first_name": "Tester", "language_code": "en"}
        message: JSON = {
            "message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "from": user, **fields,
        }
        if text is not None:
            message["text"] = text
            entities = list(_entities(text))
            if entities:
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if edited:
            message["edit_date"] = int(time.time())
        self._push({"edited_message" if edited else "message": message})
        return message

    def push_sticker(self, chat_id: int, **kwargs: Any) -> JSON:
        """Queue a sticker message (`kwargs` as for push_message)."""
        sticker = {"file_id": "CAACAgIAAxkBAAEBsticker", "file_unique_id": "AgADsticker", "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "👍"}
        return self.push_message(chat_id, sticker=sticker, **kwargs)

    def push_media(self, chat_id: int, kind: str, caption: str | None = None, **kwargs: Any) -> JSON:
        """Queue a "photo", "document" or "video" message, with `caption` if given (`kwargs` as for push_message)."""
        file = {"file_id": f"BQACAgIAAx{kind}", "file_unique_id": f"AgAD{kind}"}
        media: Any = {
            "photo": [{**file, "width": 90, "height": 90}],
            "document": {**file, "file_name": "form.pdf", "mime_type": "application/pdf"},
            "video": {**file, "width": 640, "height": 360, "duration": 5},
        }[kind]
        fields: JSON = {kind: media}
        if caption is not None:
            fields["caption"] = caption
            entities = list(_entities(caption))
            if entities:
                fields["caption_entities"] = entities
        return self.push_message(chat_id, **fields, **kwargs)

    def push_raw(self, update: JSON) -> int:
        """Queue an update as given (it gets the next update_id), e.g. one PTB cannot parse; returns its id."""
        self._push(update)
        return int(self._updates[-1]["update_id"])

    def push_callback(self, message: JSON, data: str) -> str:
        """Queue a press on an inline button of the bot's `message`; returns the callback query id."""
        query_id = str(next(self._query_ids))
        self._queries[query_id] = False
        chat = message["chat"]
        user = {"id": abs(chat["id"]), "is_bot": False, "first_name": "Tester", "language_code": "en"}
        self._push({"callback_query": {"id": query_id, "from": user, "chat_instance": f"ci{chat['id']}",
                                       "message": message, "data": data}})
        return query_id

    def replies(self, chat_id: int) -> list[JSON]:
        """The messages the bot sent to `chat_id`, in order."""
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    def calls_of(self, method: str) -> list[Call]:
        """The recorded calls of one method."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def answered(self, query_id: str) -> bool:
        """Whether the bot answered that callback query."""
        return self._queries.get(query_id, False)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds (checked after every change); TimeoutError after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError(f"condition not met within {timeout} s")
            changed = self._changed
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def wait_replies(self, chat_id: int, count: int, timeout: float = 5.0) -> list[JSON]:
        """Wait until the bot sent at least `count` messages to `chat_id`; returns them all."""
        await self.wait_for(lambda: len(self.replies(chat_id)) >= count, timeout)
        return self.replies(chat_id)

    # --- the server -----------------------------------------------------------------------------

    def _push(self, update: JSON) -> None:
        self._updates.append({"update_id": next(self._update_ids), **update})
        self.pushed.append(self._updates[-1])
        self._notify()

    def redeliver(self, update: JSON) -> None:
        """Queue an update again with its own update_id, as Telegram does with one never acknowledged."""
        self._updates = sorted([*self._updates, update], key=lambda u: u["update_id"])
        self._notify()

    def pending(self) -> int:
        """Updates not acknowledged yet (Telegram's pending_update_count)."""
        return len([u for u in self._updates if u["update_id"] >= self.offset])

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _read_params(request)
        call = Call(method, params, None)
        self.calls.append(call)
        try:
            result = await self._dispatch(method.lower(), params)
        except ApiError as exc:
            call.status = exc.code
            response = _error(exc.code, exc.description, self.retry_after if exc.code == 429 else None)
        else:
            call.status = 200
            response = web.json_response({"ok": True, "result": result})
        self._notify()
        return response

    async def _dispatch(self, method: str, params: JSON) -> Any:
        failures = self._failures.get(method)
        kind = failures.pop(0) if failures else self._random_failure(method)
        if kind:
            if kind == "timeout":
                await asyncio.sleep(self.delay)  # the client gives up first; nothing is delivered
                raise ApiError(504, "Gateway Timeout")
            if kind == "429":
                raise ApiError(429, f"Too Many Requests: retry after {self.retry_after}")
            raise ApiError(500, "Internal Server Error")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return await handler(params)

    def _random_failure(self, method: str) -> str | None:
        if self._random_failures is None:
            return None
        rate, methods, rng = self._random_failures
        return rng.choice(FAILURES) if method in methods and rng.random() < rate else None

    async def _m_getme(self, params: JSON) -> JSON:
        return self.me

    async def _m_getupdates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        if offset > self.offset:  # an acknowledgment: a test waiting on pending() sees it now, not when this
            self.offset = offset  # long poll returns (up to its timeout later)
            self._notify()
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = int(params.get("limit") or 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while not self._updates and loop.time() < deadline:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
        return self._updates[:limit]

    async def _m_sendmessage(self, params: JSON) -> JSON:
        text, entities = _parse_text(str(params.get("text", "")), params.get("parse_mode"))
        return self._deliver(params, text=text, entities=entities)

    async def _m_sendphoto(self, params: JSON) -> JSON:
        upload = params.get("photo")
        if not isinstance(upload, bytes):
            raise ApiError(400, "Bad Request: there is no photo in the request")
        self.photos.append(upload)
        size = {"file_id": f"photo{len(self.photos)}", "file_unique_id": f"uphoto{len(self.photos)}",
                "width": 90, "height": 90, "file_size": len(upload)}
        caption, entities = _parse_text(str(params.get("caption", "")), params.get("parse_mode"), allow_empty=True)
        fields = {"caption": caption, "caption_entities": entities} if caption else {}
        return self._deliver(params, photo=[size], **fields)

    async def _m_editmessagetext(self, params: JSON) -> JSON:
        message = self._messages.get((self._chat(params)["id"], int(params.get("message_id", 0))))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        message["text"], message["entities"] = _parse_text(str(params.get("text", "")), params.get("parse_mode"))
        message["edit_date"] = int(time.time())
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _m_answercallbackquery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._queries:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self._queries[query_id] = True
        return True

    async def _m_sendchataction(self, params: JSON) -> bool:
        self._chat(params)
        return True

    async def _m_setmycommands(self, params: JSON) -> bool:
        self.commands = list(params.get("commands") or [])
        return True

    async def _m_getmycommands(self, params: JSON) -> list[JSON]:
        return self.commands

    async def _m_deletewebhook(self, params: JSON) -> bool:
        self.webhook = {}
        return True

    async def _m_setwebhook(self, params: JSON) -> bool:
        self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token")}
        return True

    async def _m_getwebhookinfo(self, params: JSON) -> JSON:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    async def _m_close(self, params: JSON) -> bool:
        return True

    async def _m_logout(self, params: JSON) -> bool:
        return True

    def _chat(self, params: JSON) -> JSON:
        chat = self._chats.get(_int(params.get("chat_id")))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _deliver(self, params: JSON, **content: Any) -> JSON:
        """Store a message the bot sent and return it as Telegram would."""
        chat = self._chat(params)
        message: JSON = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                         "from": self.me, **{k: v for k, v in content.items() if v}}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        quoted = (params.get("reply_parameters") or {}).get("message_id")
        if quoted is not None:
            message["reply_to_message_id"] = quoted  # kept flat; Telegram nests the whole message
        self._messages[(chat["id"], message["message_id"])] = message
        self.sent.append(message)
        return message


async def _read_params(request: web.Request) -> JSON:
    """Query, JSON, form or multipart parameters, decoded the way Telegram reads them."""
    params: JSON = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
        return params
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            params[key] = value.file.read()
        elif key in RAW_FIELDS:
            params[key] = value
        else:
            params[key] = _json_or_raw(str(value))
    return params


def _json_or_raw(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=code)


def _parse_text(source: str, parse_mode: Any, allow_empty: bool = False) -> tuple[str, list[JSON]]:
    """The visible text and entities of a message; ApiError (400) where Telegram would refuse it."""
    text, entities = _parse_html(source) if str(parse_mode).upper() == "HTML" else (source, [])
    if not text.strip() and not allow_empty:
        raise ApiError(400, "Bad Request: message text is empty")
    if _units(text) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    return text, entities


def _parse_html(source: str) -> tuple[str, list[JSON]]:
    """Telegram's HTML parse mode, minimally: allowed tags, balanced, with <, > and & escaped."""
    out: list[str] = []
    entities: list[JSON] = []
    open_tags: list[tuple[str, int]] = []
    position = 0
    for match in HTML_TOKEN.finditer(source):
        out.append(source[position:match.start()])
        position = match.end()
        token = match[0]
        if token in ("<", "&"):
            raise _unparsable(f"unexpected {token!r} at offset {match.start()}")
        if token.startswith("&"):
            out.append(html.unescape(token))
            continue
        closing, tag = match[1] == "/", match[2].lower()
        if tag not in HTML_TAGS:
            raise _unparsable(f'unsupported start tag "{tag}"')
        offset = _units("".join(out))
        if not closing:
            open_tags.append((tag, offset))
            continue
        if not open_tags or open_tags[-1][0] != tag:
            raise _unparsable(f'unmatched end tag "{tag}"')
        start = open_tags.pop()[1]
        if offset > start:
            entities.append({"type": HTML_TAGS[tag], "offset": start, "length": offset - start})
    out.append(source[position:])
    if open_tags:
        raise _unparsable(f'can\'t find end tag corresponding to start tag "{open_tags[-1][0]}"')
    return "".join(out), sorted(entities, key=lambda e: e["offset"])


def _unparsable(problem: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {problem}")


def _entities(text: str) -> Iterator[JSON]:
    """The bot_command and mention entities Telegram would attach to a user's text."""
    command = re.match(r"/\w+(?:@\w+)?", text)
    if command:
        yield {"type": "bot_command", "offset": 0, "length": _units(command[0])}
    for mention in re.finditer(r"(?<!\w)@\w{5,32}", text):
        yield {"type": "mention", "offset": _units(text[:mention.start()]), "length": _units(mention[0])}


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
