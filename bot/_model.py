"""The core's value types: chunks of the corpus, conversation state and replies."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

INTENTS = ("cause", "fix", "red_flag", "about", "out_of_scope", "greeting", "check")


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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form of the state."""
        data = asdict(self)
        data["red_flags"] = list(self.red_flags)
        data["check_answers"] = [list(pair) for pair in self.check_answers]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> State:
        """Rebuild a state from `to_dict` output; unknown keys are ignored."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["red_flags"] = tuple(values.get("red_flags") or ())
        values["check_answers"] = tuple((str(q), str(a)) for q, a in values.get("check_answers") or ())
        return cls(**values)


@dataclass(frozen=True)
class Reply:
    """What the core answers: the routed intent and topic, the text and its grounding."""

    intent: str
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
