"""The bot's handlers and the texts they send."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from telegram import Bot, BotCommand, CallbackQuery, Chat, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import NetworkError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from .._config import Copy
from .._engine import default_engine
from .._model import ARTICLE_INTENTS, DAY, Answer, Reply, State
from ..review import Inbox, InboxQueue
from ._sending import keyboard, quietly, retrying, send_text
from ._setup import addressed, strip_mention

Context = ContextTypes.DEFAULT_TYPE

logger = logging.getLogger("bot.telegram")

INLINE_ANSWER_CHARS = 1000
SWEEP_EVERY_SECONDS = 3600.0
SUGGESTION_DATA = re.compile(r"s:(\d{1,20}):(\d{1,3})")  # bounded: forged data of 5,000 digits is just expired
FEEDBACK_DATA = re.compile(r"f:(\d{1,20}):(up|down)")
FEEDBACK_ON = ARTICLE_INTENTS  # answers from the article carry 👍 / 👎 when the review inbox is on
REMEMBERED_ANSWERS = 10_000  # chats whose last answer is kept in memory (only while the inbox is on) for a 👎

RESET = "Done, I have forgotten our conversation. Ask me anything about back pain on the hip thrust machine."
NOT_TEXT = "I can only read text messages. Please type your question about back pain on the hip thrust machine."
UNKNOWN_COMMAND = "I don't know that command. Try /help."
EXPIRED = "That suggestion has expired: please type your question."
THANKS_UP = "Thanks, glad it helped!"
THANKS_DOWN = "Thanks for telling me. The question goes to the maintainers' review list (no name, no chat id)."
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."

COMMANDS = [
    BotCommand("start", "What hipbot is (and is not)"),
    BotCommand("help", "Example questions"),
    BotCommand("reset", "Forget our conversation"),
    BotCommand("check", "A guided check: what is behind my back pain?"),
    BotCommand("diagram", "A picture of a wrong and a right setup"),
    BotCommand("about", "The source article"),
]

CAPTIONED = filters.CAPTION & (filters.PHOTO | filters.Document.ALL | filters.VIDEO | filters.ANIMATION)
NON_TEXT = (
    filters.Sticker.ALL | filters.PHOTO | filters.VOICE | filters.AUDIO | filters.VIDEO | filters.VIDEO_NOTE
    | filters.ANIMATION | filters.Document.ALL | filters.LOCATION | filters.CONTACT | filters.Dice.ALL
    | filters.POLL | filters.VENUE | filters.STORY
)


class Handlers:
    """The bot's handlers; each chat's state is kept in chat_data, replies come from `answer`.
    Chats idle for longer than `retention_days` are forgotten (in memory and in the store)."""

    def __init__(self, answer: Answer, retention_days: float = 30.0, clock: Callable[[], float] = time.time,
                 inbox: Inbox | None = None, copy: Copy | None = None) -> None:
        self.answer = answer
        self.copy = copy or default_engine().config.copy
        self.retention = retention_days * DAY
        self.clock = clock
        self.inbox = inbox
        self.review = InboxQueue(inbox) if inbox is not None else None  # never on the answer's path
        self._next_sweep = 0.0
        self._answered: OrderedDict[int, tuple[int, str, Reply]] = OrderedDict()  # chat -> generation, question, reply

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add the handlers: commands, text, suggestion buttons, non-text messages and errors."""
        new = filters.UpdateType.MESSAGE  # edited messages and channel posts are ignored
        application.add_handlers([
            CommandHandler("start", self.start, filters=new),
            CommandHandler("help", self.help, filters=new),
            CommandHandler("reset", self.reset, filters=new),
            CommandHandler(["check", "diagram", "about"], self.core_command, filters=new),
            MessageHandler(new & filters.COMMAND & filters.ChatType.PRIVATE, self.unknown_command),
            MessageHandler(new & filters.TEXT & ~filters.COMMAND, self.on_text),
            MessageHandler(new & CAPTIONED, self.on_text),  # a caption is read like a message's text
            MessageHandler(new & NON_TEXT, self.on_non_text),
            CallbackQueryHandler(self.on_button, pattern=r"^s:"),
            CallbackQueryHandler(self.on_feedback, pattern=r"^f:"),
            CallbackQueryHandler(self.on_unknown_button),  # any other data: answered, so the client stops waiting
        ])
        application.add_error_handler(self.on_error)

    async def post_init(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Publish the command menu and load the corpus before the first message arrives."""
        await retrying(functools.partial(application.bot.set_my_commands, COMMANDS))
        await asyncio.to_thread(self.answer, "hello", None)
        mode = application.bot_data.get("mode", "polling")
        logger.info("hipbot ready as @%s (%s)", application.bot.username, mode)  # never the token

    async def post_shutdown(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Write what the review inbox still has queued (briefly)."""
        if self.review is not None:
            await asyncio.to_thread(self.review.stop)

    async def start(self, update: Update, context: Context) -> None:
        """/start: what the bot is, what it answers, and that it is not medical advice."""
        await send_text(context.bot, _chat_id(update), self.copy.start)

    async def help(self, update: Update, context: Context) -> None:
        """/help: example questions."""
        await send_text(context.bot, _chat_id(update), f"{self.copy.help}\n\n{self.copy.help_telegram}")

    async def reset(self, update: Update, context: Context) -> None:
        """/reset: forget the conversation (the suggestion counter stays, so old buttons expire)."""
        data = _chat_data(context)
        data.pop("state", None)
        data.pop("suggestions", None)
        await send_text(context.bot, _chat_id(update), RESET)

    async def core_command(self, update: Update, context: Context) -> None:
        """/check, /diagram and /about: commands the core itself understands."""
        message = cast(Message, update.effective_message)
        await self._respond(update, context, (message.text or "").split("@", 1)[0].split()[0])

    async def unknown_command(self, update: Update, context: Context) -> None:
        """Any other /command in a private chat."""
        await send_text(context.bot, _chat_id(update), UNKNOWN_COMMAND)

    async def on_text(self, update: Update, context: Context) -> None:
        """A question (a message's text or a photo's, document's or video's caption); in groups only when
        the bot is mentioned or replied to."""
        message = cast(Message, update.effective_message)
        text = message.text or message.caption or ""
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

    async def on_feedback(self, update: Update, context: Context) -> None:
        """👍 / 👎 under an answer: a 👎 sends that question to the review inbox; the user gets a short thanks."""
        query = cast(CallbackQuery, update.callback_query)
        match = FEEDBACK_DATA.fullmatch(query.data or "")
        answered = self._answered.get(_chat_id(update))
        if not match or answered is None or answered[0] != int(match[1]) or self.review is None:
            await quietly(query.answer(EXPIRED))
            return
        if match[2] == "down":
            self.review.mark_unhelpful(answered[1], answered[2])
        await quietly(query.answer(THANKS_DOWN if match[2] == "down" else THANKS_UP))

    async def on_unknown_button(self, update: Update, context: Context) -> None:
        """Button data this bot never sent (forged, or from an older version): answered as expired."""
        await quietly(cast(CallbackQuery, update.callback_query).answer(EXPIRED))

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
        state = State.from_dict(data.get("state"))
        if len(text) <= INLINE_ANSWER_CHARS:  # about a millisecond: a thread hop would cost more
            reply = self.answer(text, state)
        else:  # a long message takes longer: keep the event loop free for other chats
            reply = await asyncio.to_thread(self.answer, text, state)
        if self.review is not None:  # queued for the inbox's own thread: a locked file never delays the answer
            self.review.consider(text, reply)
        # The update's id, not a counter: unique and rising, so after a store rolled back by a kill the buttons
        # of a reply it lost cannot match a later reply's.
        generation = max(update.update_id, data.get("generation", 0) + 1)
        data.update(state=reply.state.to_dict(), generation=generation, suggestions=list(reply.suggestions),
                    seen=self.clock())
        self._forget_idle_chats(context.application)
        body = f"› {text}\n\n{reply.text}" if echo else reply.text
        message = update.message  # None for a button press
        quote = message.message_id if message and message.chat.type != ChatType.PRIVATE else None
        if reply.picture:
            await self._send_picture(context.bot, chat_id, dict(reply.picture))
        feedback = self.inbox is not None and reply.intent in FEEDBACK_ON
        if feedback:
            self._answered[chat_id] = (generation, text, reply)
            self._answered.move_to_end(chat_id)
            while len(self._answered) > REMEMBERED_ANSWERS:
                self._answered.popitem(last=False)
        await send_text(context.bot, chat_id, body, keyboard(reply.suggestions, generation, feedback), quote)
        logger.debug("Replied: intent=%s confidence=%.2f", reply.intent, reply.confidence)

    def _forget_idle_chats(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """At most once an hour, drop the chats not seen within the retention period."""
        now = self.clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY_SECONDS
        idle = [chat for chat, data in application.chat_data.items() if data.get("seen", now) < now - self.retention]
        for chat in idle:
            application.drop_chat_data(chat)

    async def _send_picture(self, bot: Bot, chat_id: int, labels: dict[str, str]) -> None:
        """Draw (or reuse) the setup picture off the event loop and send it as a photo."""
        from ..picture import setup_png

        photo = await asyncio.to_thread(setup_png, tuple(sorted(labels.items())))  # from memory, no file
        await quietly(bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO))
        await retrying(functools.partial(bot.send_photo, chat_id, photo, caption=self.copy.picture_caption))


def _chat_id(update: Update) -> int:
    return cast(Chat, update.effective_chat).id


def _chat_data(context: Context) -> dict[str, Any]:
    return cast(dict[str, Any], context.chat_data)
