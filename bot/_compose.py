"""Reply text: lead with the answer, condense the article's passage, name the section."""

from __future__ import annotations

import re

from ._config import Config
from ._model import Chunk

_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)", re.S)
GIST_LIMIT = 140


class Composer:
    """Turns a topic into grounded reply text and follow-up suggestions."""

    def __init__(self, config: Config, chunks: tuple[Chunk, ...]) -> None:
        self.config = config
        self.by_topic: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            self.by_topic.setdefault(chunk.topic, []).append(chunk)
        for serving in self.by_topic.values():
            serving.sort(key=lambda c: (c.kind != "faq", c.id != c.topic))  # direct FAQ answer, then the section
        self.chunks = chunks

    def headline(self, topic: str) -> str:
        """The heading of the section a topic is answered from."""
        return self._section(topic).heading if topic in self.by_topic else topic

    def article(self, topic: str) -> str:
        """The article's passage(s) for a topic, with a list of its sub-sections if it has any."""
        main = self._section(topic)
        parts = [c.text for c in self.by_topic[topic]]
        children = [c for c in self.chunks if _is_under(c, main)]
        if children:
            parts.append("\n".join(f"• {c.heading}{_gist(c.text)}" for c in children))
        parts.append(source_line(main))
        return "\n\n".join(parts)

    def _section(self, topic: str) -> Chunk:
        """The topic's own section (not an FAQ entry serving it)."""
        serving = self.by_topic[topic]
        return next((c for c in serving if c.id == topic), serving[0])

    def gist(self, topic: str) -> str:
        """The first sentence of the passage that answers a topic."""
        text = self.by_topic[topic][0].text.strip()
        match = _FIRST_SENTENCE.match(text)
        return match.group(1) if match else text

    def ask_about(self, topic: str) -> str:
        """A follow-up question that leads to `topic` (for 'closest topics' suggestions)."""
        template = self.config.intents[self.config.intent_of(topic)].get("ask", "{heading}?")
        return template.format(heading=self.headline(topic).lower())

    def suggestions(self, intent: str) -> tuple[str, ...]:
        """Follow-up questions offered after a reply of this intent."""
        return tuple(self.config.intents.get(intent, {}).get("suggestions", ()))


def source_line(chunk: Chunk) -> str:
    return f"📖 From \"{' › '.join(chunk.path)}\" ({chunk.document})."


def _is_under(chunk: Chunk, parent: Chunk) -> bool:
    return chunk.source == parent.source and chunk.path[: len(parent.path)] == parent.path and len(chunk.path) > len(parent.path)


def after_first_sentence(text: str) -> str:
    """`text` without its first sentence (or all of it, if it is one sentence)."""
    match = _FIRST_SENTENCE.match(text.strip())
    return text.strip()[match.end():].strip() if match and match.end() < len(text.strip()) else text.strip()


def _gist(text: str) -> str:
    """': first sentence' when it is short enough for a bullet, else nothing."""
    match = _FIRST_SENTENCE.match(text.strip())
    sentence = match.group(1) if match else text.strip()
    return f": {sentence}" if len(sentence) <= GIST_LIMIT else ""

