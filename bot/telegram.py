"""`hipbot telegram`: a thin python-telegram-bot (v22) adapter over the pure core.

Each chat's conversation state lives in `context.chat_data` (pickled to a 0600 file by default).
Message text is health data: it is never logged, and neither is the bot token.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import html
import logging
import os
import pickle
import re
import secrets
import sys
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PersistenceInput,
    PicklePersistence,
    filters,
)

from ._corpus import _front_matter
from ._engine import answer as core_answer
from ._engine import default_engine
from ._model import Reply, State

Answer = Callable[[str, State | None], Reply]
Context = ContextTypes.DEFAULT_TYPE
T = TypeVar("T")

logger = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
MAX_CONCURRENT_UPDATES = 64
RATE_LIMIT_RETRIES = 3
SEND_ATTEMPTS = 4
BACKOFF_SECONDS = 0.5
PERSIST_EVERY_SECONDS = 10
HEADLINE_MAX = 100
SUGGESTION_DATA = re.compile(r"s:(\d+):(\d+)")

START = """Hi! I'm hipbot. I answer questions about back pain on the hip thrust machine, from one expert article:
• what usually causes it (setup, technique, load, weak glutes or core)
• how to fix your setup and technique
• which warning signs need a professional

I am not a doctor: this is not medical advice and I cannot diagnose anything. If the pain is sharp, \
radiates down a leg, or comes with numbness, tingling or weakness, please see a physical therapist or physician.

Just ask in your own words, or try /help for examples."""

HELP = """Ask in your own words, for example:
• Why does my lower back hurt on hip thrusts?
• How do I fix that?
• How high should the bench be?
• Where should the pad sit?
• My leg tingles after thrusts, is that normal?

Tap a suggested question under my answers to follow up.
/check walks you through a short guided check, /diagram shows a correct setup.
/reset forgets our conversation, /about shows the source article.
In groups, mention me or reply to my message."""

RESET = "Done, I have forgotten our conversation. Ask me anything about back pain on the hip thrust machine."
NOT_TEXT = "I can only read text messages. Please type your question about back pain on the hip thrust machine."
UNKNOWN_COMMAND = "I don't know that command. Try /help."
EXPIRED = "That suggestion has expired: please type your question."
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."

COMMANDS = [
    BotCommand("start", "What hipbot is (and is not)"),
    BotCommand("help", "Example questions"),
    BotCommand("reset", "Forget our conversation"),
    BotCommand("check", "A guided check: what is behind my back pain?"),
    BotCommand("diagram", "A picture of a correct setup"),
    BotCommand("about", "The source article"),
]

NON_TEXT = (
    filters.Sticker.ALL | filters.PHOTO | filters.VOICE | filters.AUDIO | filters.VIDEO | filters.VIDEO_NOTE
    | filters.ANIMATION | filters.Document.ALL | filters.LOCATION | filters.CONTACT
)


def build_application(
    token: str,
    *,
    answer: Answer = core_answer,
    base_url: str | None = None,
    base_file_url: str | None = None,
    persistence: Path | None = None,
    rate_limit: bool = True,
    timeout: float = 10.0,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot as production runs it; tests point `base_url` at a fake server and inject `answer`."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token in the URL
    handlers = Handlers(answer)
    builder = (
        ApplicationBuilder()
        .token(token)
        .concurrent_updates(ChatOrderedProcessor(MAX_CONCURRENT_UPDATES))
        .connect_timeout(timeout).read_timeout(timeout).write_timeout(timeout).pool_timeout(timeout)
        .get_updates_connect_timeout(timeout).get_updates_read_timeout(timeout)
        .get_updates_write_timeout(timeout).get_updates_pool_timeout(timeout)
        .post_init(handlers.post_init)
    )
    if base_url:
        builder.base_url(base_url).base_file_url(base_file_url or file_url_for(base_url))
    if persistence is not None:
        builder.persistence(private_persistence(persistence))
    if rate_limit:
        builder.rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
    application = builder.build()
    handlers.register(application)
    return application


def run_telegram(args: argparse.Namespace) -> int:
    """Check the configuration, then serve by long polling or, with --webhook, by webhook."""
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
    problem = config_problem(token, secret, args.webhook, args.base_url)
    if problem:
        print(f"hipbot: error: {problem}", file=sys.stderr)
        return 2
    configure_logging(token)
    persistence = None if args.no_persistence else (args.persistence or default_persistence_path()).expanduser()
    application = build_application(
        token, base_url=args.base_url, base_file_url=args.base_file_url,
        persistence=persistence, rate_limit=not args.no_rate_limit,
    )
    try:
        if args.webhook:
            application.run_webhook(
                listen=args.listen, port=args.port, url_path=urlsplit(args.webhook).path.lstrip("/"),
                webhook_url=args.webhook, secret_token=secret or secrets.token_urlsafe(32),
                allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False, bootstrap_retries=3,
            )
        else:
            application.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False, bootstrap_retries=3)
    except InvalidToken:
        print("hipbot: error: Telegram rejected TELEGRAM_BOT_TOKEN", file=sys.stderr)
        return 2
    except TelegramError as exc:
        print(f"hipbot: error: the Bot API failed at start-up ({type(exc).__name__})", file=sys.stderr)
        return 1
    finally:
        if persistence is not None and persistence.exists():
            persistence.chmod(0o600)
    return 0


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


class Handlers:
    """The bot's handlers; each chat's state is kept in chat_data, replies come from `answer`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add the handlers: commands, text, suggestion buttons, non-text messages and errors."""
        new = filters.UpdateType.MESSAGE  # edited messages and channel posts are ignored
        application.add_handlers([
            CommandHandler("start", self.start, filters=new),
            CommandHandler("help", self.help, filters=new),
            CommandHandler("reset", self.reset, filters=new),
            CommandHandler("about", self.about, filters=new),
            CommandHandler(["check", "diagram"], self.core_command, filters=new),
            MessageHandler(new & filters.COMMAND & filters.ChatType.PRIVATE, self.unknown_command),
            MessageHandler(new & filters.TEXT & ~filters.COMMAND, self.on_text),
            MessageHandler(new & NON_TEXT, self.on_non_text),
            CallbackQueryHandler(self.on_button, pattern=r"^s:"),
        ])
        application.add_error_handler(self.on_error)

    async def post_init(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Publish the command menu and load the corpus before the first message arrives."""
        await retrying(functools.partial(application.bot.set_my_commands, COMMANDS))
        await asyncio.to_thread(self.answer, "hello", None)

    async def start(self, update: Update, context: Context) -> None:
        """/start: what the bot is, what it answers, and that it is not medical advice."""
        await send_text(context.bot, _chat_id(update), START)

    async def help(self, update: Update, context: Context) -> None:
        """/help: example questions."""
        await send_text(context.bot, _chat_id(update), HELP)

    async def reset(self, update: Update, context: Context) -> None:
        """/reset: forget the conversation (the suggestion counter stays, so old buttons expire)."""
        data = _chat_data(context)
        data.pop("state", None)
        data.pop("suggestions", None)
        await send_text(context.bot, _chat_id(update), RESET)

    async def about(self, update: Update, context: Context) -> None:
        """/about: the source article, its author and attribution."""
        await send_text(context.bot, _chat_id(update), about_text())

    async def core_command(self, update: Update, context: Context) -> None:
        """/check and /diagram: commands the core itself understands."""
        message = cast(Message, update.effective_message)
        await self._respond(update, context, (message.text or "").split("@", 1)[0].split()[0])

    async def unknown_command(self, update: Update, context: Context) -> None:
        """Any other /command in a private chat."""
        await send_text(context.bot, _chat_id(update), UNKNOWN_COMMAND)

    async def on_text(self, update: Update, context: Context) -> None:
        """A question; in groups only when the bot is mentioned or replied to."""
        message = cast(Message, update.effective_message)
        text = message.text or ""
        if message.chat.type != ChatType.PRIVATE:
            if not addressed(message, context.bot.username, context.bot.id):
                return
            text = strip_mention(text, context.bot.username)
        await self._respond(update, context, text)

    async def on_button(self, update: Update, context: Context) -> None:
        """A suggestion button: answer the callback query, then ask that follow-up."""
        query = cast(CallbackQuery, update.callback_query)
        data = context.chat_data or {}
        suggestions: list[str] = data.get("suggestions", [])
        match = SUGGESTION_DATA.fullmatch(query.data or "")
        if not match or int(match[1]) != data.get("generation") or int(match[2]) >= len(suggestions):
            await quietly(query.answer(EXPIRED))
            return
        await quietly(query.answer())
        question = suggestions[int(match[2])]
        await self._respond(update, context, question, echo=True)

    async def on_non_text(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice...: a short polite reply (in groups only when addressed)."""
        message = cast(Message, update.effective_message)
        if message.chat.type == ChatType.PRIVATE or addressed(message, context.bot.username, context.bot.id):
            await send_text(context.bot, message.chat_id, NOT_TEXT)

    async def on_error(self, update: object, context: Context) -> None:
        """Log the error's type and traceback (never message text) and apologise in the chat."""
        error = context.error
        if update is None and isinstance(error, NetworkError):
            logger.warning("Bot API request failed while polling: %s", type(error).__name__)
            return
        trace = "".join(traceback.format_tb(error.__traceback__)) if error else ""
        logger.error("Error while handling an update: %s\n%s", type(error).__name__, trace)
        if isinstance(update, Update) and update.effective_chat:
            await quietly(context.bot.send_message(update.effective_chat.id, APOLOGY))

    async def _respond(self, update: Update, context: Context, text: str, echo: bool = False) -> None:
        """Answer `text` in the chat's conversation and send the reply with its suggestion buttons."""
        chat_id = _chat_id(update)
        await quietly(context.bot.send_chat_action(chat_id, ChatAction.TYPING))
        data = _chat_data(context)
        reply = self.answer(text, State.from_dict(data.get("state")))
        generation = data.get("generation", 0) + 1
        data.update(state=reply.state.to_dict(), generation=generation, suggestions=list(reply.suggestions))
        body = f"› {text}\n\n{reply.text}" if echo else reply.text
        message = update.message  # None for a button press
        quote = message.message_id if message and message.chat.type != ChatType.PRIVATE else None
        if reply.picture:
            await self._send_picture(context.bot, chat_id, dict(reply.picture))
        await send_text(context.bot, chat_id, body, keyboard(reply.suggestions, generation), quote)
        logger.debug("Replied: intent=%s confidence=%.2f", reply.intent, reply.confidence)


    @staticmethod
    async def _send_picture(bot: Bot, chat_id: int, labels: dict[str, str]) -> None:
        """Draw (or reuse) the setup picture off the event loop and send it as a photo."""
        from .picture import setup_picture

        path = await asyncio.to_thread(setup_picture, labels)
        photo = await asyncio.to_thread(path.read_bytes)
        await quietly(bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO))
        await retrying(functools.partial(bot.send_photo, chat_id, photo, caption="A correct machine hip thrust setup"))


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


async def send_text(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None,
                    quote: int | None = None) -> None:
    """Send `text` as HTML in as many messages as it needs; only the last one carries `markup`."""
    parts = render(text)
    for number, part in enumerate(parts, start=1):
        quoted = ReplyParameters(quote, allow_sending_without_reply=True) if quote and number == 1 else None
        last = number == len(parts)
        await retrying(functools.partial(
            bot.send_message, chat_id, part, parse_mode=ParseMode.HTML,
            reply_markup=markup if last else None, reply_parameters=quoted,
        ))


async def retrying(call: Callable[[], Awaitable[T]]) -> T:
    """Await `call()`, retrying flood waits (429), timeouts and server errors with backoff.

    Delivery is at least once: a request that timed out may still have reached Telegram.
    """
    for attempt in range(SEND_ATTEMPTS - 1):
        try:
            return await call()
        except BadRequest:
            raise
        except (RetryAfter, NetworkError) as exc:
            delay = max(BACKOFF_SECONDS * 2**attempt, _retry_after(exc))
            logger.warning("Bot API call failed (%s), retrying in %.1f s", type(exc).__name__, delay)
        await asyncio.sleep(delay)
    return await call()


def _retry_after(error: TelegramError) -> float:
    """The wait a flood-control error asks for, in seconds (0 for other errors)."""
    if not isinstance(error, RetryAfter):
        return 0.0
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


async def quietly(call: Awaitable[Any]) -> None:
    """Await a cosmetic call (typing action, callback answer) whose failure must not stop the reply."""
    try:
        await call
    except TelegramError as exc:
        logger.warning("Optional Bot API call failed: %s", type(exc).__name__)


def render(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """`text` as HTML messages of at most `limit` visible characters; a short first line is bold."""
    parts = split_text(text if text.strip() else "…", limit)
    rendered = [html.escape(part, quote=False) for part in parts]
    headline, newline, rest = parts[0].partition("\n")
    if newline and len(headline) <= HEADLINE_MAX:
        rendered[0] = f"<b>{html.escape(headline, quote=False)}</b>\n{html.escape(rest, quote=False)}"
    return rendered


def split_text(text: str, limit: int, separators: tuple[str, ...] = ("\n\n", "\n")) -> list[str]:
    """Cut `text` into pieces of at most `limit` UTF-16 units: at blank lines, then lines, then anywhere."""
    if _units(text) <= limit:
        return [text]
    if not separators:
        return _hard_cut(text, limit)
    separator, finer = separators[0], separators[1:]
    parts: list[str] = []
    current = ""
    for piece in text.split(separator):
        joined = f"{current}{separator}{piece}" if current else piece
        if _units(joined) <= limit:
            current = joined
            continue
        if current.strip():
            parts.append(current)
        *done, current = split_text(piece, limit, finer)
        parts.extend(done)
    if current.strip():
        parts.append(current)
    return parts


def _hard_cut(text: str, limit: int) -> list[str]:
    parts, current, size = [], [], 0
    for char in text:
        width = _units(char)
        if size + width > limit:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    return parts + ["".join(current)]


def _units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def keyboard(suggestions: tuple[str, ...], generation: int) -> InlineKeyboardMarkup | None:
    """One button per suggestion; callback data "s:<generation>:<index>" stays far below 64 bytes."""
    if not suggestions:
        return None
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(text, callback_data=f"s:{generation}:{index}")] for index, text in enumerate(suggestions)
    ])


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


_EMPTY_STORE = {"conversations": {}, "user_data": {}, "chat_data": {}, "bot_data": {}, "callback_data": None}


def private_persistence(path: Path) -> PicklePersistence[Any, Any, Any]:
    """PicklePersistence of chat_data only, in a file created with mode 0600 (it holds health data)."""
    path = path.expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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


def _chat_id(update: Update) -> int:
    return cast(Any, update.effective_chat).id


def _chat_data(context: Context) -> dict[str, Any]:
    return cast(dict[str, Any], context.chat_data)
