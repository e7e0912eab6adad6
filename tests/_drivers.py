"""How the tests drive hipbot: the one REPL driver, a fake answerer for adapter and inbox tests,
a check that a reply is well formed, and a wait on a condition with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from bot import INTENTS, Reply, State, default_engine
from bot.cli import main as cli_main


def chat(lines: str, *, columns: int | None = None) -> str:
    """Everything `hipbot chat` prints, run in this process, for `lines` typed one after another and then
    the end of input; `columns` sets the terminal's width. (A real terminal: see test_repl's pty test.)"""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        if columns is not None:
            patch.setenv("COLUMNS", str(columns))
        patch.setattr("sys.stdin", io.StringIO(lines))
        assert cli_main(["chat"]) == 0
    return out.getvalue()


@dataclass
class FakeAnswerer:
    """A stand-in for the core's `answer(text, state) -> Reply`: every question gets `reply` (an article
    answer with the given `confidence`), except the texts given in `replies`. What was asked is kept in
    `asked`. Adapter and inbox tests use it so they never depend on what the classifier makes of a text."""

    confidence: float = 0.9
    replies: dict[str, Reply] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def __call__(self, text: str, state: State | None = None) -> Reply:
        self.asked.append(text)
        turns = (state.turns if state else 0) + 1
        fixed = self.replies.get(text)
        if fixed is not None:
            return Reply(fixed.intent, fixed.topic, fixed.text, fixed.sources, fixed.confidence, fixed.suggestions,
                         State(topic=fixed.topic, intent=fixed.intent, turns=turns), fixed.picture)
        return article_reply(text, self.confidence, State(topic="cause.general", intent="cause", turns=turns))


def article_reply(text: str, confidence: float, state: State | None = None) -> Reply:
    """An answer from the article with the given confidence, as the core would shape one."""
    return Reply("cause", "cause.general", f"An answer to: {text}", confidence=confidence,
                 suggestions=("How do I fix it?", "When should I see a professional?"), state=state or State())


def red_flag_reply() -> Reply:
    """Red-flag guidance, as the core would shape it (answered on purpose: never offered for review)."""
    return Reply("red_flag", "red_flag.numbness", "⚠️ Please get checked by a physical therapist.", confidence=1.0,
                 suggestions=("Why does this happen?",))


def declined_reply() -> Reply:
    """A decline: the question is outside what the article covers."""
    return Reply("out_of_scope", "out_of_scope.supplements", "The article doesn't cover supplements.",
                 confidence=1.0, suggestions=("Why does my back hurt on hip thrusts?",))


def assert_well_formed(reply: Reply, state: State | None = None) -> None:
    """What every reply of the core holds, whatever was asked: a known intent and a topic of it, text,
    a confidence in [0, 1], sources that are sections of the article, distinct suggestions, one more
    turn, and a JSON form and a state that survive a round trip."""
    engine = default_engine()
    assert reply.intent in INTENTS
    assert reply.topic == reply.intent or reply.topic.startswith(f"{reply.intent}."), (reply.intent, reply.topic)
    assert reply.text.strip()
    assert 0.0 <= reply.confidence <= 1.0
    sections = {chunk.id for chunk in engine.chunks}
    assert {source.id for source in reply.sources} <= sections
    assert all(s.strip() for s in reply.suggestions) and len(set(reply.suggestions)) == len(reply.suggestions)
    assert reply.state.turns == (state.turns if state else 0) + 1
    assert json.loads(json.dumps(reply.to_json()))["topic"] == reply.topic
    assert State.from_dict(json.loads(json.dumps(reply.state.to_dict()))) == reply.state


async def until(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0) -> None:
    """Wait until `predicate()` (a plain or an async check) holds, looking every 10 ms; TimeoutError after
    `timeout` seconds. For conditions nothing announces (a thread's progress, a server's start): a wait
    that ends as soon as the condition holds, never a fixed pause."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        held = predicate()
        if await held if inspect.isawaitable(held) else held:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)
