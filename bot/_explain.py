"""Why the core answered as it did: the figures behind a reply, for `/why` and `hipbot ask --explain`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ._model import Source


@dataclass(frozen=True)
class Explanation:
    """The decision behind one reply, in the order the core takes it."""

    intent: str
    topic: str
    confidence: float
    red_flags: tuple[str, ...]  # red-flag topics whose signs this message shows
    sticky: bool  # red-flag guidance repeated because of an earlier message
    classifier_flag: tuple[str, float] | None  # a red-flag topic the classifier ranked first, with its score
    sections: tuple[Source, ...]  # the sections most similar to the message
    followup: bool  # read as a follow-up to the conversation's topic
    not_covered: str | None  # the kind of question the article does not answer, when that rule fired
    closest: tuple[str, ...]  # other likely topics, offered when unsure
    signs: tuple[tuple[str, float, str], ...] = ()  # the sign model's likely signs: (sign, probability, the clause)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form."""
        data = asdict(self)
        data["confidence"] = round(self.confidence, 3)
        data["classifier_flag"] = (
            {"topic": self.classifier_flag[0], "score": round(self.classifier_flag[1], 3)} if self.classifier_flag
            else None
        )
        return data

    def render(self) -> str:
        """Plain lines for a terminal."""
        lines = [f"intent: {self.intent}   topic: {self.topic}   confidence: {self.confidence:.2f}"]
        if self.red_flags:
            lines.append("red-flag signs in this message: " + ", ".join(self.red_flags))
        if self.sticky:
            lines.append("red-flag guidance repeated: a warning sign was mentioned earlier in this conversation")
        if self.classifier_flag:
            lines.append(f"classifier's red-flag guess: {self.classifier_flag[0]} ({self.classifier_flag[1]:.2f})")
        lines.append("closest sections: " + "; ".join(f"{s.heading} ({s.score:.2f})" for s in self.sections))
        lines.append(f"follow-up rule: {'fired' if self.followup else 'no'}   "
                     f"not-covered rule: {self.not_covered or 'no'}")
        if self.closest:
            lines.append("unsure between: " + ", ".join(self.closest))
        if self.signs:
            found = (f"{sign} {score:.2f} in “{piece}”" for sign, score, piece in self.signs)
            lines.append("sign model: " + "; ".join(found))
        return "\n".join(lines)
