"""The core's value types: chunks of the corpus, conversation state and replies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

Intent = Literal["cause", "fix", "red_flag", "about", "out_of_scope", "greeting", "check"]
INTENTS: tuple[Intent, ...] = get_args(Intent)
ARTICLE_INTENTS: tuple[Intent, ...] = ("cause", "fix", "about")  # the intents answered from the article
DAY = 86400.0  # seconds: retention periods are given in days
MAX_SHOWN = 64  # topics remembered as shown: more than the article has


@dataclass(frozen=True)
class Chunk:
    """One addressable unit of an article: a cause, a fix, a red flag, an FAQ entry..."""

    id: str
    topic: str
    kind: str
    heading: str
    path: tuple[str, ...]
    text: str
    document: str
    source: str


@dataclass(frozen=True)
class Source:
    """A chunk that grounds a reply, with its retrieval score."""

    id: str
    heading: str
    score: float


@dataclass(frozen=True)
class State:
    """What the bot remembers of a conversation; passed in and returned, never global."""

    topic: str | None = None
    intent: str | None = None
    red_flags: tuple[str, ...] = ()
    turns: int = 0
    check_step: str | None = None  # the guided check's pending question ("screen", "where"...), if running
    check_answers: tuple[tuple[str, str], ...] = ()  # (question id, choice label or "skipped")
    check_retry: bool = False  # the pending question was already asked again once
    body_parts: tuple[str, ...] = ()  # limbs the last message named, so the next can finish a sign ("like it's asleep")
    shown: tuple[str, ...] = ()  # article topics answered so far, oldest first ("what else?" walks past them)
    last_reply: str = ""  # a short digest of the last reply's text, so the next one never repeats it

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form of the state."""
        data = asdict(self)
        data["red_flags"] = list(self.red_flags)
        data["body_parts"] = list(self.body_parts)
        data["shown"] = list(self.shown)
        data["check_answers"] = [list(pair) for pair in self.check_answers]
        return data

    @classmethod
    def from_dict(cls, data: object) -> State:
        """Rebuild a state from `to_dict` output; unknown keys and ill-typed values fall back to defaults."""
        if not isinstance(data, dict):
            return cls()
        turns = data.get("turns")
        pairs = data.get("check_answers")
        flags = data.get("red_flags")
        parts = data.get("body_parts")
        return cls(
            topic=_text_or_none(data.get("topic")),
            intent=_text_or_none(data.get("intent")),
            red_flags=_texts(flags),
            turns=turns if isinstance(turns, int) and not isinstance(turns, bool) and turns >= 0 else 0,
            check_step=_text_or_none(data.get("check_step")),
            check_answers=tuple(
                (p[0], p[1]) for p in pairs
                if isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, str) for x in p)
            ) if isinstance(pairs, (list, tuple)) else (),
            check_retry=data.get("check_retry") is True,
            body_parts=_texts(parts),
            shown=_texts(data.get("shown"))[-MAX_SHOWN:],
            last_reply=_text_or_none(data.get("last_reply")) or "",
        )


def _texts(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, (list, tuple)) else ()


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Reply:
    """What the core answers: the routed intent and topic, the text and its grounding."""

    intent: Intent
    topic: str
    text: str
    sources: tuple[Source, ...] = ()
    confidence: float = 0.0
    suggestions: tuple[str, ...] = ()
    state: State = field(default_factory=State, compare=False)
    picture: tuple[tuple[str, str], ...] = ()  # labels of the setup picture an adapter should show, if any

    def to_json(self) -> dict[str, Any]:
        """The machine-readable contract: intent, topic, text, sources, confidence, suggestions."""
        return {
            "intent": self.intent,
            "topic": self.topic,
            "text": self.text,
            "sources": [asdict(s) for s in self.sources],
            "confidence": round(self.confidence, 3),
            "suggestions": list(self.suggestions),
        }


Answer = Callable[[str, State | None], Reply]  # what adapters call: the core's answer function
