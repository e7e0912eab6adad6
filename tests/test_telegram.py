"""End-to-end tests of the Telegram adapter: the real Application over real HTTP against a fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from telegram.error import BadRequest
from telegram.ext import Application

import bot
from _drivers import FakeAnswerer, red_flag_reply, until
from bot import Reply, State, default_engine
from bot.cli import main as cli_main
from bot.telegram import (
    ALLOWED_UPDATES,
    APOLOGY,
    EXPIRED,
    NOT_TEXT,
    RESET,
    ChatStore,
    Handlers,
    build_application,
    polling,
    serve_webhook,
)
from fake_bot_api import JSON, FakeBotAPI

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:" + "A" * 35
BOT_TIMEOUT = 1.0
CAUSE = "why does my lower back hurt on hip thrusts?"
FIX_FOLLOW_UP = "how do I fix that?"

App = Application[Any, Any, Any, Any, Any, Any]
Launch = Callable[..., contextlib.AbstractAsyncContextManager[App]]


@pytest.fixture
async def api(engine: bot.Engine) -> AsyncIterator[FakeBotAPI]:
    """The fake Bot API; the answer index is in the cache first, so a `hipbot telegram` started by a test
    loads it instead of building it (and printing the build notice on stderr)."""
    async with FakeBotAPI(TOKEN, delay=BOT_TIMEOUT * 2) as server:
        yield server


@pytest.fixture
def launch(api: FakeBotAPI, tmp_path: Path) -> Launch:
    """Start the Application built by build_application the way run_polling does; stop it at exit."""

    @contextlib.asynccontextmanager
    async def running(answer: Callable[[str, State | None], Reply] = bot.answer, rate_limit: bool = False,
                      persistence: Path | None = tmp_path / "state" / "telegram.sqlite3") -> AsyncIterator[App]:
        application = build_application(TOKEN, answer=answer, base_url=api.base_url, persistence=persistence,
                                        rate_limit=rate_limit, timeout=BOT_TIMEOUT)
        async with polling(application):
            yield application

    return running


def expected(*messages: str) -> Reply:
    """The core's reply to the last of `messages`, asked in one conversation."""
    return _expected(default_engine(), messages)


@functools.cache  # the core is pure: the burst tests ask the same few conversations hundreds of times
def _expected(engine: bot.Engine, messages: tuple[str, ...]) -> Reply:
    state = None
    for text in messages:
        reply = engine.answer(text, state)
        state = reply.state
    return reply


async def replies_so_far(api: FakeBotAPI, *chats: int, timeout: float = 30.0) -> dict[int, list[JSON]]:
    """Every reply sent to each of `chats` for what it was sent so far, once nothing more can come: a /help
    is sent to each, and each chat's updates are handled one at a time in order, so when its answer arrives
    everything sent before it was handled. The /help and its answer are left out."""
    marker = f"{default_engine().config.copy.help}\n\n{default_engine().config.copy.help_telegram}"
    before = {chat: sum(m.get("text") == marker for m in api.replies(chat)) for chat in chats}
    for chat in chats:
        api.push_message(chat, "/help")

    def answered(chat: int) -> bool:
        return sum(m.get("text") == marker for m in api.replies(chat)) > before[chat]

    await api.wait_for(lambda: all(answered(chat) for chat in chats), timeout)
    replies = {}
    for chat in chats:
        sent = api.replies(chat)
        last = max(i for i, m in enumerate(sent) if m.get("text") == marker)
        assert last == len(sent) - 1, sent[last:]  # nothing after the marker's answer
        replies[chat] = sent[:last]
    return replies


def handlers_of(application: App) -> Handlers:
    """The Handlers that build_application registered in `application`."""
    found = {getattr(h.callback, "__self__", None) for h in application.handlers[0]}
    [handlers] = [owner for owner in found if isinstance(owner, Handlers)]
    return handlers


async def test_commands(api: FakeBotAPI, launch: Launch) -> None:
    async with launch():
        assert [c["command"] for c in api.commands] == ["start", "help", "reset", "check", "diagram", "about"]
        for command in ("/start", "/help", "/about"):
            api.push_message(1, command)
        start, help_, about = await api.wait_replies(1, 3)
        copy = default_engine().config.copy
        assert start["text"] == copy.start and "not medical advice" in start["text"]
        assert help_["text"] == f"{copy.help}\n\n{copy.help_telegram}"
        assert about["text"] == bot.answer("/about").text == default_engine().about  # the REPL's /about too
        assert default_engine().chunks[0].document in about["text"] and "Jordan" in about["text"]
        api.push_message(1, "/frobnicate")
        unknown = (await api.wait_replies(1, 4))[-1]
        assert "/help" in unknown["text"]


async def test_follow_up_uses_the_conversation(api: FakeBotAPI, launch: Launch) -> None:
    async with launch():
        api.push_message(7, CAUSE)
        first = (await api.wait_replies(7, 1))[0]
        api.push_message(7, FIX_FOLLOW_UP)
        second = (await api.wait_replies(7, 2))[1]
    assert first["text"] == expected(CAUSE).text
    fix = expected(CAUSE, FIX_FOLLOW_UP)
    assert fix.intent == "fix" and second["text"] == fix.text
    headings = [c.heading for c in default_engine().chunks if c.topic == fix.topic and c.kind == "fix"]
    assert any(heading in second["text"] for heading in headings)
    assert second["entities"][0] == {"type": "bold", "offset": 0, "length": len(fix.text.split("\n")[0])}
    buttons = [row[0] for row in second["reply_markup"]["inline_keyboard"]]
    assert [b["text"] for b in buttons] == list(fix.suggestions)
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    methods = [c.method for c in api.calls if c.params.get("chat_id") == 7]
    assert methods == ["sendChatAction", "sendMessage"] * 2


async def test_reset_forgets_the_conversation(api: FakeBotAPI, launch: Launch) -> None:
    pad, why = "Where should the pad sit?", "why does this happen?"
    assert expected(pad, why).text != expected(why).text
    async with launch():
        api.push_message(8, pad)
        api.push_message(8, "/reset")
        api.push_message(8, why)
        replies = await api.wait_replies(8, 3)
    assert [m["text"] for m in replies] == [expected(pad).text, RESET, expected(why).text]


async def test_red_flag_gets_professional_help(api: FakeBotAPI, launch: Launch) -> None:
    async with launch():
        api.push_message(3, "my leg goes numb on thrusts")
        [reply] = await api.wait_replies(3, 1)
    red_flag = expected("my leg goes numb on thrusts")
    assert red_flag.intent == "red_flag" and reply["text"] == red_flag.text
    assert "physical therapist" in reply["text"] and "can't diagnose" in reply["text"]


async def test_suggestion_button(api: FakeBotAPI, launch: Launch) -> None:
    async with launch():
        api.push_message(5, CAUSE)
        [first] = await api.wait_replies(5, 1)
        button = first["reply_markup"]["inline_keyboard"][0][0]
        query = api.push_callback(first, button["callback_data"])
        second = (await api.wait_replies(5, 2))[1]
        assert api.answered(query)
        assert second["text"] == f"› {button['text']}\n\n{expected(CAUSE, button['text']).text}"
        stale = api.push_callback(first, button["callback_data"])  # the keyboard of an older reply
        await api.wait_for(lambda: api.answered(stale))
        replies = (await replies_so_far(api, 5))[5]
    assert api.calls_of("answerCallbackQuery")[-1].params.get("text") == EXPIRED
    assert replies == [first, second]


async def test_forged_and_unknown_button_data_is_answered_as_expired(api: FakeBotAPI, launch: Launch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    async with launch():
        api.push_message(6, CAUSE)
        [first] = await api.wait_replies(6, 1)
        forged = [api.push_callback(first, data) for data in ("s:" + "9" * 5000 + ":0", "s:1:" + "9" * 5000,
                                                              "f:" + "9" * 5000 + ":up", "zz", "")]
        await api.wait_for(lambda: all(api.answered(q) for q in forged))
        replies = (await replies_so_far(api, 6))[6]
    assert [c.params.get("text") for c in api.calls_of("answerCallbackQuery")] == [EXPIRED] * len(forged)
    assert replies == [first] and "Error while handling" not in caplog.text


async def test_a_rolled_back_store_cannot_match_a_lost_reply_s_buttons(api: FakeBotAPI, launch: Launch,
                                                                       tmp_path: Path) -> None:
    """kill -9 can roll the store back past a reply the user still sees; its buttons must not pick a
    suggestion of a later reply."""
    store = tmp_path / "state" / "telegram.sqlite3"
    async with launch():
        api.push_message(13, CAUSE)
        await api.wait_replies(13, 1)
    snapshot = store.read_bytes()
    async with launch():
        api.push_message(13, "Where should the pad sit?")
        lost = (await api.wait_replies(13, 2))[-1]
    store.write_bytes(snapshot)  # as if killed before that reply's chat was written
    async with launch():
        api.push_message(13, "How high should the bench be?")
        await api.wait_replies(13, 3)
        query = api.push_callback(lost, lost["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        await api.wait_for(lambda: api.answered(query))
        replies = (await replies_so_far(api, 13))[13]
    assert api.calls_of("answerCallbackQuery")[-1].params.get("text") == EXPIRED
    assert len(replies) == 3


async def test_long_answer_is_split(api: FakeBotAPI, launch: Launch) -> None:
    paragraphs = [f"Paragraph {n} <&> 💪\n" + "word " * (100 + 30 * n) for n in range(20)]
    unbroken = "💪" * 3000  # 6000 UTF-16 units without a line break: hard-cut
    long_text = "Headline\n\n" + "\n\n".join(paragraphs) + "\n\n" + unbroken

    def long_answer(text: str, state: State | None) -> Reply:
        return Reply("fix", "fix.general", long_text, suggestions=("More?",), state=State(turns=1))

    async with launch(answer=long_answer):
        api.push_message(9, "tell me everything")
        parts = (await replies_so_far(api, 9))[9]
    assert len(parts) >= 3
    assert all(len(p["text"].encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert "\n\n".join(p["text"] for p in parts[:-1]) + parts[-1]["text"] == long_text
    assert parts[-1]["text"] + parts[-2]["text"] == unbroken
    assert [("reply_markup" in p) for p in parts] == [False] * (len(parts) - 1) + [True]


async def test_html_in_user_text(api: FakeBotAPI, launch: Launch) -> None:
    def echo(text: str, state: State | None) -> Reply:
        return Reply("about", "about.echo", f"You said:\n{text}", state=State())

    question = "<b>why</b> & my back?"
    async with launch():
        api.push_message(11, question)
        [reply] = await api.wait_replies(11, 1)
    assert reply["text"] == expected(question).text
    async with launch(answer=echo) as application:
        api.push_message(12, question)
        [echoed] = await api.wait_replies(12, 1)
        with pytest.raises(BadRequest, match="parse entities"):  # the fake refuses unescaped HTML like Telegram
            await application.bot.send_message(12, question, parse_mode="HTML")
    assert echoed["text"] == f"You said:\n{question}"
    assert [c.status for c in api.calls_of("sendMessage")] == [200, 200, 400]


@pytest.mark.slow(seconds=5)
async def test_hundred_chats_at_once(api: FakeBotAPI, launch: Launch) -> None:
    questions = ["How high should the bench be?", "Where should the pad sit?", CAUSE, "my leg goes numb on thrusts"]
    follow_up = "why does this happen?"
    chats = range(1000, 1100)
    async with launch():
        for chat in chats:
            api.push_message(chat, questions[chat % len(questions)])
            api.push_message(chat, follow_up)
        replies = await replies_so_far(api, *chats, timeout=60)
    wanted = {chat: expected(questions[chat % len(questions)], follow_up).text for chat in chats}
    assert len(set(wanted.values())) > 1
    for chat in chats:
        first, second = [m["text"] for m in replies[chat]]
        assert first == expected(questions[chat % len(questions)]).text
        assert second == wanted[chat]


@pytest.mark.parametrize("rate_limit", [True, False], ids=["rate-limited", "no-rate-limit"])
async def test_server_failures_lose_no_reply(api: FakeBotAPI, launch: Launch, rate_limit: bool,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta, PTB's future default
    api.fail("sendMessage", "500", "429", "timeout")
    api.fail("sendChatAction", "500")
    async with launch(rate_limit=rate_limit):
        for chat in (21, 22, 23):
            api.push_message(chat, CAUSE)
        replies = await replies_so_far(api, 21, 22, 23)
    for chat in (21, 22, 23):
        assert [m["text"] for m in replies[chat]] == [expected(CAUSE).text]
    statuses = [c.status for c in api.calls_of("sendMessage")]
    assert {500, 429, None} <= set(statuses) and statuses.count(200) == 3 + 3  # the answers and the markers'


async def test_restart_keeps_the_conversation(api: FakeBotAPI, launch: Launch, tmp_path: Path) -> None:
    async with launch():
        api.push_message(31, CAUSE)
        await api.wait_replies(31, 1)
    path = tmp_path / "state" / "telegram.sqlite3"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    async with launch():
        api.push_message(31, FIX_FOLLOW_UP)
        second = (await api.wait_replies(31, 2))[1]
    assert second["text"] == expected(CAUSE, FIX_FOLLOW_UP).text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_group_chat_needs_a_mention(api: FakeBotAPI, launch: Launch) -> None:
    group = -100123
    async with launch():
        api.push_message(group, CAUSE, group=True, user_id=41)
        api.push_sticker(group, group=True, user_id=41)
        asked = api.push_message(group, f"@{api.me['username']} {CAUSE}", group=True, user_id=41)
        [reply] = await api.wait_replies(group, 1)  # the chat's updates are handled in order: the first two were
        assert reply["reply_to_message_id"] == asked["message_id"]  # handled, unanswered, before this answer
        api.push_message(group, FIX_FOLLOW_UP, group=True, user_id=42, reply_to=reply)
        await api.wait_replies(group, 2)
    first, second = api.replies(group)
    assert first["text"] == expected(CAUSE).text and first["reply_to_message_id"] == asked["message_id"]
    assert second["text"] == expected(CAUSE, FIX_FOLLOW_UP).text


async def test_non_text_and_edits(api: FakeBotAPI, launch: Launch) -> None:
    async with launch():
        api.push_sticker(51)
        [reply] = await api.wait_replies(51, 1)
        api.push_message(51, CAUSE, edited=True)
        replies = (await replies_so_far(api, 51))[51]
    assert reply["text"] == NOT_TEXT
    assert replies == [reply]


@pytest.mark.parametrize("kind", ["photo", "document", "video"])
async def test_a_caption_is_read_like_text(api: FakeBotAPI, launch: Launch, kind: str) -> None:
    """A red flag in the caption of a photo, document or video gets the guidance; without a caption,
    the media gets the not-text reply; in a group, a caption that mentions the bot is answered."""
    flag = "my left foot goes numb on every rep"
    group = -100200
    async with launch():
        api.push_media(52, kind, caption=flag)
        api.push_media(52, kind)
        api.push_media(group, kind, caption=CAUSE, group=True, user_id=43)
        api.push_media(group, kind, caption=f"@{api.me['username']} {flag}", group=True, user_id=43)
        guidance, not_text = await api.wait_replies(52, 2)
        [answered] = await api.wait_replies(group, 1)  # in order: the caption without a mention was handled first
    assert expected(flag).intent == "red_flag"
    assert guidance["text"] == expected(flag).text and "physical therapist" in guidance["text"]
    assert not_text["text"] == NOT_TEXT
    assert answered["text"] == expected(flag).text and len(api.replies(group)) == 1


async def test_dice_and_polls_get_the_not_text_reply(api: FakeBotAPI, launch: Launch) -> None:
    async with launch():
        api.push_message(53, dice={"emoji": "🎲", "value": 4})
        [reply] = await api.wait_replies(53, 1)
    assert reply["text"] == NOT_TEXT


async def test_errors_are_logged_without_text_and_apologised(api: FakeBotAPI, launch: Launch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    secret_text = "my private back story"

    def broken(text: str, state: State | None) -> Reply:
        if text == "hello":  # the start-up warm-up
            return bot.answer(text, state)
        raise ValueError(f"cannot handle {text}")

    caplog.set_level(logging.INFO)
    async with launch(answer=broken):
        api.push_message(61, secret_text)
        [reply] = await api.wait_replies(61, 1)
    assert reply["text"] == APOLOGY
    assert "ValueError" in caplog.text and secret_text not in caplog.text


@pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
async def test_token_and_text_never_logged(api: FakeBotAPI, launch: Launch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    api.fail("sendMessage", "500", "429")
    async with launch(rate_limit=True):
        api.push_message(71, "my leg goes numb on thrusts")
        api.push_message(71, "/start")
        await api.wait_replies(71, 2, timeout=10)
    assert "retrying" in caplog.text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    assert "numb" not in caplog.text


async def test_a_poison_update_is_skipped_without_its_content(api: FakeBotAPI, launch: Launch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """A poll without an id (as an older local Bot API server sends) and a message without a chat cannot be
    parsed: each is one log line without content, acknowledged, and every other chat is answered."""
    caplog.set_level(logging.INFO)
    person: JSON = {"from": {"id": 77, "is_bot": False, "first_name": "Zebedee", "username": "zeb_private"}}
    async with launch():
        api.push_message(77, "my secret back story, why does it hurt?", **person)
        poll = api.push_raw({"poll": {"question": "my secret poll", "options": [], "total_voter_count": 0,
                                      "is_closed": False, "is_anonymous": True, "type": "regular",
                                      "allows_multiple_answers": False}})
        chatless = api.push_raw({"message": {"message_id": 999, "date": 0, "text": "secret words", **person}})
        api.push_message(78, CAUSE)
        await api.wait_replies(77, 1)
        await api.wait_replies(78, 1)
        await api.wait_for(lambda: api.offset > chatless)
    skipped = [r.getMessage() for r in caplog.records if "Skipped update" in r.getMessage()]
    assert skipped == [f"Skipped update {poll}: it could not be parsed (TypeError).",
                       f"Skipped update {chatless}: it could not be parsed (KeyError)."]
    for private in ("secret", "Zebedee", "zeb_private"):
        assert private not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]


def test_log_lines_withhold_updates_and_request_parameters() -> None:
    from telegram import Update

    from bot.telegram._setup import SafeFormatter

    update = Update.de_json({"update_id": 5, "message": {"message_id": 1, "date": 0, "text": "secret words",
                                                         "chat": {"id": 1, "type": "private", "first_name": "Zeb"}}},
                            None)
    formatter = SafeFormatter(TOKEN)
    for args in ((update,), ({"text": "secret words"},), ([{"first_name": "Zeb"}],)):
        line = formatter.format(logging.makeLogRecord({"msg": "Processing update %s", "args": args}))
        assert line.endswith("withheld>") and "secret" not in line and "Zeb" not in line
    assert formatter.format(logging.makeLogRecord({"msg": "Skipped update %d", "args": (5,)})).endswith("update 5")


@pytest.mark.slow(seconds=4)
async def test_polling_failures_back_off(api: FakeBotAPI, launch: Launch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with launch():
        api.fail("getUpdates", "500", "500", "500")
        api.push_message(79, CAUSE)
        await api.wait_replies(79, 1, timeout=15)
    pauses = [r.getMessage().rsplit("retrying in ", 1)[1] for r in caplog.records
              if r.getMessage().startswith("Polling for updates failed")]
    assert pauses == ["0.5 s.", "1.0 s.", "2.0 s."]


async def test_webhook_mode(api: FakeBotAPI) -> None:
    application = build_application(TOKEN, base_url=api.base_url, persistence=None, rate_limit=False,
                                    timeout=BOT_TIMEOUT)
    port, stop = _free_port(), asyncio.Event()
    serving = asyncio.create_task(serve_webhook(application, url="https://bot.example/hook", listen="127.0.0.1",
                                                port=port, secret="s3cret", retries=0, allowed_updates=ALLOWED_UPDATES,
                                                stop=stop))
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        await api.wait_for(lambda: bool(api.webhook), timeout=30)
        await until(lambda: application.running)  # started right after setWebhook, with no further call to the fake
        assert api.webhook == {"url": "https://bot.example/hook", "secret_token": "s3cret"}
        async with session.get(f"{base}/healthz") as health:
            assert health.status == 200 and await health.json() == {"ok": True, "bot": "hipbot_test_bot"}
        message = api.push_message(81, CAUSE)
        update = {"update_id": 1, "message": message}
        assert (await _raw_request(port, "POST /hook", {"Content-Length": "10"}, b"{}")).startswith(b"HTTP/1.1 403")
        secret = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        async with session.post(f"{base}/hook", data=b"{not json", headers=secret) as malformed:
            assert malformed.status == 400
        async with session.post(f"{base}/hook", json=update, headers=secret) as ok:
            assert ok.status == 200
        [reply] = api.replies(81)  # acknowledged (200) only once answered
        assert reply["text"] == expected(CAUSE).text
        poison = {"update_id": 2, "poll": {"question": "secret poll", "options": []}}
        async with session.post(f"{base}/hook", json=poison, headers=secret) as skipped:
            assert skipped.status == 200  # skipped and acknowledged, so Telegram does not send it for ever
        stop.set()
        await asyncio.wait_for(serving, 10)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{base}/healthz")


async def _raw_request(port: int, line: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """Send a request's line and headers (and `body`, if any) on a fresh connection; the whole response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "x", **headers}.items())
    response = b""
    try:
        writer.write(f"{line} HTTP/1.1\r\n{head}\r\n".encode() + body)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 30)  # until the server closes
    except ConnectionResetError:  # the server cut the request off
        pass
    writer.close()
    return response


@contextlib.asynccontextmanager
async def _webhook(api: FakeBotAPI, limits: Any) -> AsyncIterator[int]:
    application = build_application(TOKEN, base_url=api.base_url, persistence=None, rate_limit=False,
                                    timeout=BOT_TIMEOUT)
    port, stop = _free_port(), asyncio.Event()
    serving = asyncio.create_task(serve_webhook(application, url="https://bot.example/hook", listen="127.0.0.1",
                                                port=port, secret="s3cret", retries=0, allowed_updates=ALLOWED_UPDATES,
                                                stop=stop, limits=limits))
    await api.wait_for(lambda: bool(api.webhook), timeout=30)
    await until(lambda: application.running)  # started right after setWebhook, with no further call to the fake
    try:
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)


async def test_webhook_checks_the_secret_and_size_before_reading_the_body(api: FakeBotAPI) -> None:
    from bot.telegram._webhook import WebhookLimits

    async with _webhook(api, WebhookLimits(max_body_bytes=100_000)) as port:
        # headers only, a 1 MB body announced and never sent: answered from the headers alone
        no_secret = await _raw_request(port, "POST /hook", {"Content-Length": "1000000"})
        assert no_secret.startswith(b"HTTP/1.1 403")
        too_big = await _raw_request(port, "POST /hook", {"Content-Length": "1000000",
                                                          "X-Telegram-Bot-Api-Secret-Token": "s3cret"})
        assert too_big.startswith(b"HTTP/1.1 413")
        chunked = await _raw_request(port, "POST /hook", {"Transfer-Encoding": "chunked",
                                                          "X-Telegram-Bot-Api-Secret-Token": "s3cret"},
                                     b"".join(b"%x\r\n%s\r\n" % (50_000, b"x" * 50_000) for _ in range(3)))
        assert not chunked.startswith(b"HTTP/1.1 200")  # cut off past the limit


async def test_webhook_slow_clients_cannot_starve_it(api: FakeBotAPI) -> None:
    """Half-written requests are dropped after the header timeout, and past the connection cap the oldest
    are closed: /healthz and Telegram's updates keep being answered."""
    from bot.telegram._webhook import WebhookLimits

    async with _webhook(api, WebhookLimits(header_timeout=0.5, max_connections=20)) as port:
        slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(60)]
        for _, writer in slow:
            writer.write(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Le")  # and never the rest
            await writer.drain()
        health = await _raw_request(port, "GET /healthz", {"Connection": "close"})
        assert health.startswith(b"HTTP/1.1 200")
        message = api.push_message(82, CAUSE)
        body = json.dumps({"update_id": 5, "message": message}).encode()
        ok = await _raw_request(port, "POST /hook", {"Content-Length": str(len(body)), "Connection": "close",
                                                     "Content-Type": "application/json",
                                                     "X-Telegram-Bot-Api-Secret-Token": "s3cret"}, body)
        assert ok.startswith(b"HTTP/1.1 200") and api.replies(82)
        for reader, writer in slow:  # every one is closed by the server: evicted, or timed out
            assert await asyncio.wait_for(reader.read(), 30) == b""
            writer.close()


async def test_hipbot_telegram_webhook_health_and_a_taken_port(api: FakeBotAPI, tmp_path: Path) -> None:
    """`hipbot telegram --webhook` as deployed: /healthz answers once ready; a taken port is one line, exit 2."""
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "telegram", "--webhook", "https://bot.example/hook", "--port", str(port),
        "--base-url", api.base_url, "--persistence", str(tmp_path / "store.sqlite3"), cwd=PROJECT_ROOT,
        env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:

            async def healthy() -> bool:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as health:
                        return health.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await until(healthy, timeout=60)
        status, err = await _run_bot("--webhook", "https://bot.example/hook", "--port", str(port),
                                     "--base-url", api.base_url, "--no-persistence")
        assert status == 2 and err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "hipbot ready as @hipbot_test_bot (webhook https://bot.example/hook on 127.0.0.1:" in log
    assert TOKEN not in log


async def test_hipbot_telegram_command(api: FakeBotAPI, tmp_path: Path) -> None:
    """`hipbot telegram` as deployed: a separate process polling the fake server, stopped by SIGINT."""
    state = tmp_path / "cli" / "telegram.sqlite3"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "telegram", "--base-url", api.base_url, "--persistence", str(state),
        cwd=PROJECT_ROOT, env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        api.push_message(101, "my leg goes numb on thrusts")
        [reply] = await api.wait_replies(101, 1, timeout=30)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert reply["text"] == expected("my leg goes numb on thrusts").text
    assert "Application started" in log and TOKEN not in log and "numb" not in log
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


async def test_a_second_bot_on_the_same_store_exits_2(api: FakeBotAPI, tmp_path: Path) -> None:
    store = tmp_path / "telegram.sqlite3"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "telegram", "--base-url", api.base_url, "--persistence", str(store),
        cwd=PROJECT_ROOT, env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}, stderr=asyncio.subprocess.PIPE,
    )
    try:
        api.push_message(111, CAUSE)
        await api.wait_replies(111, 1, timeout=30)  # the first one is up
        status, err = await _run_bot("--base-url", api.base_url, "--persistence", str(store))
        assert status == 2
        assert err == (f"hipbot: error: cannot use the conversation store {store} "
                       f"(another hipbot is using it (process {process.pid}))\n")
        api.push_message(111, FIX_FOLLOW_UP)
        await api.wait_replies(111, 2, timeout=30)  # the first one is still answering
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert not list(tmp_path.glob("*.unreadable-*"))
    assert len(await ChatStore(store).get_chat_data()) == 1


async def _run_bot(*args: str, token: str = TOKEN) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "telegram", *args, cwd=PROJECT_ROOT,
        env={**os.environ, "TELEGRAM_BOT_TOKEN": token}, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return cast(int, process.returncode), stderr.decode()


@pytest.mark.slow(seconds=5)
async def test_a_rejected_token_and_an_unreachable_api_are_one_line_each(api: FakeBotAPI) -> None:
    rejected = "654321:" + "B" * 35  # well formed, unknown to the server
    status, err = await _run_bot("--base-url", api.base_url, "--no-persistence", token=rejected)
    assert (status, err.count("\n")) == (2, 1) and "rejected TELEGRAM_BOT_TOKEN" in err and "B" * 35 not in err
    status, err = await _run_bot("--base-url", f"http://127.0.0.1:{_free_port()}/bot", "--no-persistence")
    assert (status, err.count("\n")) == (1, 1) and "cannot reach the Bot API" in err and TOKEN not in err


@pytest.mark.slow(seconds=5)
async def test_sigterm_mid_burst_then_restart_loses_nothing(api: FakeBotAPI, tmp_path: Path) -> None:
    """The operator's `systemctl restart`: SIGTERM while replies are going out; every conversation survives."""
    store, chats = tmp_path / "telegram.sqlite3", range(500, 560)

    async def serve_until_answered(answered: Callable[[], bool]) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "telegram", "--base-url", api.base_url, "--persistence", str(store),
            cwd=PROJECT_ROOT, env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}, stderr=asyncio.subprocess.PIPE,
        )
        await api.wait_for(answered, timeout=60)
        process.send_signal(signal.SIGTERM)
        started = asyncio.get_running_loop().time()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()
        assert asyncio.get_running_loop().time() - started < 10  # systemd and Docker kill after 10 s

    async def stored() -> dict[int, Any]:
        chat_store = ChatStore(store)
        try:
            return await chat_store.get_chat_data()
        finally:
            await chat_store.flush()  # closes the file: the restarted bot may take it

    for chat in chats:
        api.push_message(chat, CAUSE)
    await serve_until_answered(lambda: all(api.replies(c) for c in chats))
    unsaved = set(chats) - set(await stored())
    if unsaved:  # on a loaded machine, replies still in flight past the stop budget: those updates stay
        # unacknowledged, so Telegram sends them again and the restarted bot answers them
        assert api.pending() >= len(unsaved)
        await serve_until_answered(lambda: all(len(api.replies(c)) > 1 for c in unsaved))
    saved = await stored()
    assert set(saved) == set(chats)
    assert all(State.from_dict(saved[c]["state"]) == expected(CAUSE).state for c in chats)


async def test_updates_are_acknowledged_only_once_handled(api: FakeBotAPI) -> None:
    """One slow update holds the getUpdates offset back (a crash now would have it sent again); at most one
    batch (100) is in hand; once it is handled everything is acknowledged."""
    release = threading.Event()
    slow = "slow " * 300  # over 1,000 characters: answered on a thread, which the test holds

    def answer(text: str, state: State | None) -> Reply:
        if text.startswith("slow"):
            release.wait(60)
        return bot.answer(text, state)

    application = build_application(TOKEN, answer=answer, base_url=api.base_url, persistence=None,
                                    rate_limit=False, timeout=BOT_TIMEOUT)
    others = range(202, 352)
    try:
        async with polling(application) as poller:
            api.push_message(201, slow)
            blocked = api.pushed[-1]["update_id"]
            for chat in others:
                api.push_message(chat, CAUSE)
            await api.wait_for(lambda: sum(1 for c in others if api.replies(c)) >= 99, timeout=30)
            assert api.offset <= blocked and api.pending() == 1 + len(others)  # nothing acknowledged yet
            assert poller.in_hand <= 100
            release.set()
            await api.wait_for(lambda: all(api.replies(c) for c in (201, *others)), timeout=30)
            await api.wait_for(lambda: api.pending() == 0)
    finally:
        release.set()
    assert all(len(api.replies(c)) == 1 for c in (201, *others))


async def test_an_update_sent_again_after_a_restart_is_not_answered_twice(api: FakeBotAPI, launch: Launch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with launch():
        api.push_message(211, CAUSE)
        await api.wait_replies(211, 1)
    first = api.pushed[-1]
    async with launch():  # the same store
        api.redeliver(first)  # as Telegram does when the acknowledgment did not reach it
        api.push_message(211, FIX_FOLLOW_UP)
        await api.wait_replies(211, 2)
        await api.wait_for(lambda: api.pending() == 0)
    assert [m["text"] for m in api.replies(211)] == [expected(CAUSE).text, expected(CAUSE, FIX_FOLLOW_UP).text]
    assert f"Update {first['update_id']} was handled before a restart" in caplog.text


async def test_an_old_record_does_not_make_a_new_update_a_duplicate(api: FakeBotAPI, launch: Launch,
                                                                   tmp_path: Path) -> None:
    """Telegram keeps updates 24 hours, and after a quiet week may start its update ids afresh, lower: a chat's
    record older than a day does not stop a new update with a lower id from being answered."""
    async with launch():
        api.push_message(212, CAUSE)
        await api.wait_replies(212, 1)
    store = tmp_path / "state" / "telegram.sqlite3"
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        [(text,)] = db.execute("SELECT data FROM chats WHERE id = 212")
        data = json.loads(text)
        assert data["update"] == api.pushed[-1]["update_id"]
        data.update(update=10**9, update_at=data["update_at"] - 8 * 86400)  # a week ago, a much higher id
        db.execute("UPDATE chats SET data = ? WHERE id = 212", (json.dumps(data),))
    async with launch():
        api.push_message(212, FIX_FOLLOW_UP)
        await api.wait_replies(212, 2)


def _start_bot(api: FakeBotAPI, store: Path, *args: str) -> asyncio.Future[asyncio.subprocess.Process]:
    return asyncio.ensure_future(asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "telegram", "--base-url", api.base_url, "--persistence", str(store), *args,
        cwd=PROJECT_ROOT, env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}, stderr=asyncio.subprocess.PIPE,
    ))


@pytest.mark.slow(seconds=10)
async def test_kill_mid_burst_then_restart_answers_every_message(api: FakeBotAPI, tmp_path: Path) -> None:
    """kill -9 while a burst is being answered: nothing fetched but unanswered is lost (it was never
    acknowledged), and only updates in hand at the kill (at most one batch) can be answered twice."""
    store, chats = tmp_path / "telegram.sqlite3", range(2000, 2250)
    first = await _start_bot(api, store, "--no-rate-limit")
    for chat in chats:
        api.push_message(chat, CAUSE)
    await api.wait_for(lambda: len(api.sent) >= 50, timeout=60)
    first.kill()
    await first.communicate()
    unanswered = [c for c in chats if not api.replies(c)]
    assert unanswered and api.pending() >= len(unanswered)  # all of them are still pending at Telegram
    returncode, stderr = await _answer_the_rest(api, store, chats)
    assert returncode == 0, stderr.decode()
    twice = [c for c in chats if len(api.replies(c)) > 1]
    assert len(twice) <= 100, len(twice)
    assert all(m["text"] == expected(CAUSE).text for c in chats for m in api.replies(c))


async def _answer_the_rest(api: FakeBotAPI, store: Path, chats: range) -> tuple[int | None, bytes]:
    """Start the bot again (no rate limit) until every chat has its reply and Telegram has nothing pending,
    then stop it with SIGTERM: its exit status and log."""
    second = await _start_bot(api, store, "--no-rate-limit")
    try:
        await api.wait_for(lambda: all(api.replies(c) for c in chats), timeout=90)
        await api.wait_for(lambda: api.pending() == 0, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(second.communicate(), timeout=30)
    return second.returncode, stderr


@pytest.mark.slow(seconds=12)
async def test_sigterm_with_a_backlog_stops_fetching_and_the_restart_answers_the_rest(api: FakeBotAPI,
                                                                                   tmp_path: Path) -> None:
    """Rate-limited (about 15 replies a second), a backlog of 200 chats, SIGTERM: the bot stops well before
    a 15 s kill, leaves what it did not answer unacknowledged, and the next start answers it."""
    store, chats = tmp_path / "telegram.sqlite3", range(3000, 3200)
    first = await _start_bot(api, store)
    for chat in chats:
        api.push_message(chat, CAUSE)
    await api.wait_for(lambda: len(api.sent) >= 20, timeout=60)
    first.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(first.communicate(), timeout=15)  # as systemd and compose allow
    log = stderr.decode()
    assert first.returncode == 0, log
    left = re.search(r"Stopped with (\d+) updates unfinished", log)
    unfinished = int(left[1]) if left else 0
    answered = sum(1 for c in chats if api.replies(c))
    assert answered < len(chats) and api.pending() >= len(chats) - answered
    await _answer_the_rest(api, store, chats)
    twice = sum(len(api.replies(c)) - 1 for c in chats)
    assert twice <= unfinished, (twice, unfinished)


@pytest.mark.parametrize("token", ["", "not-a-token", "123:short", f"abc:{'A' * 35}"])
def test_bad_token_is_one_line_error(token: str, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    assert cli_main(["telegram", "--no-persistence"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hipbot: error: TELEGRAM_BOT_TOKEN") and err.count("\n") == 1
    assert not token or token not in err


def test_webhook_needs_https(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert cli_main(["telegram", "--webhook", "http://bot.example/hook"]) == 2
    assert "https" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_guided_check_with_buttons(api: FakeBotAPI, launch: Launch) -> None:
    async with launch():
        api.push_message(40, "/check")
        [screen] = await api.wait_replies(40, 1)
        assert "safety check" in screen["text"]
        labels = [row[0]["text"] for row in screen["reply_markup"]["inline_keyboard"]]
        assert labels == ["Yes, at least one", "No, none of these"]
        api.push_callback(screen, screen["reply_markup"]["inline_keyboard"][1][0]["callback_data"])
        question = (await api.wait_replies(40, 2))[1]
        assert question["text"].startswith("› No, none of these")
        for count in range(3, 9):  # press the first choice until the result arrives
            last = api.replies(40)[-1]
            if "most likely first" in last["text"]:
                break
            api.push_callback(last, last["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
            await api.wait_replies(40, count)
        result = api.replies(40)[-1]
    assert "Here's what your answers point to, most likely first" in result["text"]
    assert "What to do" in result["text"]


async def test_the_check_stores_no_free_text(api: FakeBotAPI, launch: Launch, tmp_path: Path) -> None:
    """Free text in a guided-check answer (a name and a phone number between the words that point to a cause)
    is shown back at once but never kept in the conversation store; the result still quotes what was said."""
    said = "pad jon 0770090 sits on my belly"
    async with launch():
        for count, text in enumerate(("/check", "no", said), start=1):
            api.push_message(42, text)
            await api.wait_replies(42, count)
        understood = api.replies(42)[-1]["text"]
        assert understood.startswith("Got it:"), understood  # the check goes on
        for _ in range(8):  # skip the other questions until the result
            if "most likely first" in api.replies(42)[-1]["text"]:
                break
            count = len(api.replies(42))
            api.push_message(42, "idk")
            await api.wait_replies(42, count + 1)
        result = api.replies(42)[-1]["text"]
    assert "0770090" in understood  # the reply to that message quotes it
    assert "you said “pad” … “belly”" in result and "jon" not in result
    store = tmp_path / "state" / "telegram.sqlite3"
    on_disk = b"".join(f.read_bytes() for f in store.parent.glob("telegram.sqlite3*"))
    assert b"0770090" not in on_disk and b"jon" not in on_disk
    saved = await ChatStore(store).get_chat_data()
    assert ["said:cause.pad_position", "pad … belly"] in saved[42]["state"]["check_answers"]


async def test_diagram_sends_a_png(api: FakeBotAPI, launch: Launch) -> None:
    async with launch():
        api.push_message(41, "/diagram")
        await api.wait_for(lambda: bool(api.photos) and len(api.replies(41)) >= 2, timeout=30)
    assert api.photos[0].startswith(b"\x89PNG\r\n\x1a\n")
    assert "hip crease" in api.replies(41)[-1]["text"]


@pytest.mark.slow(seconds=12)
async def test_soak_with_random_failures_answers_every_update_once(api: FakeBotAPI, launch: Launch,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A bounded soak: 160 updates from 20 chats while 5% of sends fail (500, 429, time-out)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    api.fail_randomly(0.05, seed=11)
    chats, rounds = range(300, 320), ("why does my lower back hurt on hip thrusts?", "how do I fix that?",
                                      "what about my feet?", "thanks!", "where should the pad sit?",
                                      "my leg tingles", "could it be the bench?", "bye")
    async with launch(rate_limit=True):
        def answered(count: int) -> Callable[[], bool]:
            return lambda: all(len(api.replies(chat)) >= count for chat in chats)

        for count, text in enumerate(rounds, start=1):
            for chat in chats:
                api.push_message(chat, text)
            await api.wait_for(answered(count), timeout=60)
        replies = await replies_so_far(api, *chats, timeout=60)
    failed = [c for c in api.calls_of("sendMessage") if c.status != 200]
    assert failed, "the soak should have injected failures"
    for chat in chats:
        assert len(replies[chat]) == len(rounds)  # every update answered exactly once
    assert len({m["text"] for m in replies[chats[0]][:4]}) == 4


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + b"\x00" * 40, b"not a database at all",
                                     b"\x80\x04\x95pickle", "foreign"])
def test_an_unreadable_store_is_moved_aside_and_the_bot_starts_empty(tmp_path: Path, content: bytes | str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "state" / "telegram.sqlite3"
    store.parent.mkdir()
    if content == "foreign":  # an intact SQLite file of some other program
        with sqlite3.connect(store) as db:
            db.execute("CREATE TABLE notes (x TEXT)")
        db.close()
    else:
        store.write_bytes(cast(bytes, content))
    before = store.read_bytes()
    with caplog.at_level("WARNING"):
        asyncio.run(ChatStore(store).get_chat_data())
    kept = list(store.parent.glob("telegram.sqlite3.unreadable-*"))
    assert [k.read_bytes() for k in kept if not k.name.endswith(("-wal", "-shm"))] == [before]  # kept, never deleted
    assert "could not be read" in caplog.text
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_the_store_writes_batches_and_keeps_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"

    async def session() -> dict[int, Any]:
        store = ChatStore(path)
        loaded = await store.get_chat_data()
        await asyncio.gather(*(store.update_chat_data(chat, {"generation": chat}) for chat in range(1, 501)))
        await store.drop_chat_data(7)
        await store.flush()
        return loaded

    assert asyncio.run(session()) == {}
    reloaded = asyncio.run(session())
    assert len(reloaded) == 499 and 7 not in reloaded and reloaded[500]["generation"] == 500


def test_the_store_forgets_chats_idle_past_the_retention(tmp_path: Path) -> None:
    path, now = tmp_path / "store.sqlite3", [1_000_000.0]

    async def write(chat: int) -> None:
        store = ChatStore(path, retention_days=30, clock=lambda: now[0])
        await store.update_chat_data(chat, {"state": {}})
        await store.flush()

    asyncio.run(write(1))
    now[0] += 20 * 86400
    asyncio.run(write(2))
    now[0] += 15 * 86400  # chat 1 is 35 days old, chat 2 is 15
    loaded = asyncio.run(ChatStore(path, retention_days=30, clock=lambda: now[0]).get_chat_data())
    assert set(loaded) == {2}
    with sqlite3.connect(path) as db:
        assert [row[0] for row in db.execute("SELECT id FROM chats")] == [2]  # gone from the file, too
    db.close()


async def test_idle_chats_are_forgotten_in_memory(api: FakeBotAPI, launch: Launch) -> None:
    """The first answer after a start sweeps out the chats not seen within the retention (30 days)."""
    async with launch() as application:
        now = time.time()
        application.chat_data[55]["seen"] = now - 31 * 86400
        application.chat_data[56]["seen"] = now - 29 * 86400
        api.push_message(57, CAUSE)
        await api.wait_replies(57, 1)
        assert 55 not in application.chat_data and {56, 57} <= set(application.chat_data)


def test_a_killed_bot_keeps_every_conversation_written_before(tmp_path: Path) -> None:
    """SIGKILL in the middle of a stream of batches: the file stays readable and holds whole batches."""
    path = tmp_path / "store.sqlite3"
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from bot.telegram import ChatStore\n"
        "async def main():\n"
        f"    store = ChatStore(Path({str(path)!r}))\n"
        "    await store.get_chat_data()\n"
        "    for batch in range(10**6):\n"
        "        await asyncio.gather(*(store.update_chat_data(c, {'batch': batch}) for c in range(2000)))\n"
        "        print(batch, flush=True)\n"
        "asyncio.run(main())\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for _ in range(3):
        process.stdout.readline()
    process.kill()
    process.wait()
    chats = asyncio.run(ChatStore(path).get_chat_data())
    assert len(chats) == 2000
    assert len({data["batch"] for data in chats.values()}) == 1  # one whole batch, never half of one
    assert not list(tmp_path.glob("*.unreadable-*"))


@pytest.mark.parametrize("where", ["under-a-file", "a-folder"])
def test_an_unusable_store_path_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], where: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    path = blocker / "telegram.sqlite3" if where == "under-a-file" else tmp_path
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert cli_main(["telegram", "--persistence", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hipbot: error: cannot use the conversation store {path}") and err.count("\n") == 1
    assert TOKEN not in err and tmp_path.is_dir()  # a folder given by mistake is left as it was


async def test_thumbs_down_sends_the_question_to_the_review_inbox(api: FakeBotAPI, tmp_path: Path) -> None:
    """A confident answer is not kept, but its 👎 sends it to the inbox; red-flag guidance has no 👍/👎."""
    from bot.review import Inbox

    flag = "my leg goes numb on thrusts"
    answer = FakeAnswerer(confidence=0.9, replies={flag: red_flag_reply()})
    inbox = Inbox(tmp_path / "review.sqlite3")
    application = build_application(TOKEN, answer=answer, base_url=api.base_url, persistence=None, inbox=inbox,
                                    rate_limit=False, timeout=BOT_TIMEOUT)
    async with polling(application):
        api.push_message(61, CAUSE)
        [reply] = await api.wait_replies(61, 1)
        rows = reply["reply_markup"]["inline_keyboard"]
        assert [button["text"] for button in rows[-1]] == ["👍", "👎"]
        query = api.push_callback(reply, rows[-1][1]["callback_data"])
        await api.wait_for(lambda: api.answered(query))
        api.push_message(62, flag)
        [guidance] = await api.wait_replies(62, 1)
        review = handlers_of(application).review
        assert review is not None
        await asyncio.to_thread(review.join)  # everything queued for the inbox is written
    assert all(len(row) == 1 for row in guidance["reply_markup"]["inline_keyboard"])  # no 👍/👎 under the guidance
    [entry] = inbox.entries()
    assert (entry.text, entry.reason, entry.topic, entry.confidence) == (CAUSE, "unhelpful", "cause.general", 0.9)
    answers = [c.params.get("text") for c in api.calls_of("answerCallbackQuery")]
    assert any(text and "Thanks for telling me" in text for text in answers)


async def test_a_locked_review_inbox_never_delays_an_answer(api: FakeBotAPI, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Another process holds the inbox's write lock the whole time: every question is answered all the same;
    what the inbox's small queue cannot hold is dropped, counted and logged without its text."""
    from bot.review import Inbox

    path = tmp_path / "review.sqlite3"
    inbox = Inbox(path)  # a write waits up to 10 s for the lock
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # e.g. `hipbot review --purge` in another process, stuck
    unsure = FakeAnswerer(confidence=0.2)  # every answer low-confidence: every question is offered to the inbox
    application = build_application(TOKEN, answer=unsure, base_url=api.base_url, persistence=None, inbox=inbox,
                                    rate_limit=False, timeout=BOT_TIMEOUT)
    chats = range(700, 760)
    caplog.set_level(logging.WARNING)
    try:
        async with polling(application):
            for chat in chats:
                api.push_message(chat, f"what's the best protein powder for bulking, asks {chat}")
            await api.wait_for(lambda: all(api.replies(c) for c in chats), timeout=30)
            assert other.in_transaction  # every answer went out while the inbox was locked
            other.rollback()
            review = handlers_of(application).review
            assert review is not None and review.dropped > 0
            await asyncio.to_thread(review.join)  # the backlog, written now
            api.push_message(799, "what's the best protein powder for bulking?")  # the inbox is free again
            await api.wait_replies(799, 1)
            await asyncio.to_thread(review.join)
    finally:
        other.close()
    assert "a question was not stored" in caplog.text and "protein" not in caplog.text
    assert "what's the best protein powder for bulking?" in [e.text for e in inbox.entries()]


async def test_no_feedback_buttons_without_the_inbox(api: FakeBotAPI, launch: Launch) -> None:
    async with launch(answer=FakeAnswerer()):
        api.push_message(63, CAUSE)
        [reply] = await api.wait_replies(63, 1)
    assert all("👎" not in button["text"] for row in reply["reply_markup"]["inline_keyboard"] for button in row)
