"""Reply text: lead with the answer, keep it to a phone screen, name the section; suggestions people can send."""

from __future__ import annotations

import re
from collections import Counter

from ._config import Config
from ._model import Chunk
from ._text import words

_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)", re.S)
BUDGET = 900  # characters of a reply, unless the user asks for everything


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
        documents = Counter(c.document for c in chunks)  # the main article: the one with the most sections
        self.primary = documents.most_common(1)[0][0] if documents else ""
        self._children = {topic: self._sub_topics(topic) for topic in self.by_topic}
        self._overview = {child: parent for parent, family in self._children.items() for child in family}
        self._overview.update({parent: parent for parent, family in self._children.items() if family})

    def headline(self, topic: str) -> str:
        """The heading of the section a topic is answered from."""
        return self._section(topic).heading if topic in self.by_topic else topic

    def label(self, topic: str) -> str:
        """The short name of a topic for lists and sentences."""
        named = self.config.topics.get(topic)
        return named.label if named else self.headline(topic)

    def children(self, topic: str) -> list[str]:
        """The topics of the sub-sections of a topic's section (the causes of the causes overview...)."""
        return self._children.get(topic, [])

    def overview_of(self, topic: str) -> str | None:
        """The overview whose list a topic is on (an overview is its own), if any."""
        return self._overview.get(topic)

    def _sub_topics(self, topic: str) -> list[str]:
        main = self._section(topic)
        return list(dict.fromkeys(c.topic for c in self.chunks if _is_under(c, main)))

    def article(self, topic: str, everything: bool = False, room: int = BUDGET, left_out: tuple[str, ...] = ()) -> str:
        """A topic's passage, within `room` characters unless `everything`; an overview lists its
        sub-sections but `left_out`, one line each (the last ones by name only if room is short), then the source."""
        main = self._section(topic)
        source = self.source(main)
        children = [t for t in self.children(topic) if t not in left_out]
        if children and not everything:
            lines = [f"• {self.label(t)}: {self.summary(t)}" for t in children]
            for n in reversed(range(len(lines))):
                if len("\n\n".join((main.text, "\n".join(lines), source))) <= room:
                    break
                lines[n] = f"• {self.label(children[n])}"
            return "\n\n".join((main.text, "\n".join(lines), source))
        if children:
            parts = [main.text] + [f"{self.label(t)}\n{self._section(t).text}" for t in children]
            return "\n\n".join((*parts, source))
        named = self.config.topics.get(topic)
        after = (named.after,) if named and named.after else ()
        if everything:
            return "\n\n".join((main.text, *after, source))
        room -= sum(len(a) + 2 for a in after)
        left = room - len(source) - len(self.config.replies["more_hint"]) - 4
        text = main.text if len(main.text) <= room - len(source) - 2 else cut(main.text, left) + \
            "\n\n" + self.config.replies["more_hint"]
        return "\n\n".join((text, *after, source))

    def paired(self, topic: str, partner: dict[str, str], room: int = BUDGET, left_out: tuple[str, ...] = ()) -> str:
        """A question asking both why and how ("causes and prevention", "why does it hurt and how do I stop
        it?"): for the two overviews, each cause beside the fix the article gives for it; for one cause or
        fix, its passage, then its partner's one-line gist and section."""
        other = partner[topic]
        cause, fix = (topic, other) if self.config.intent_of(topic) == "cause" else (other, topic)
        causes, fixes = ([t for t in self.children(overview) if t not in left_out] for overview in (cause, fix))
        if not (causes and fixes):
            second = "\n".join((f"{self.config.replies['paired_' + self.config.intent_of(other)]} "
                                 f"{self.label(other)}: {self.summary(other)}.", self.source(self._section(other))))
            return "\n\n".join((self.article(topic, room=room - len(second) - 2, left_out=left_out), second))
        fix_of = {c: partner[c] for c in causes if partner.get(c) in fixes and partner[partner[c]] == c}
        lines = [f"• {self._arrow(c, fix_of[c])}: {self.summary(fix_of[c])}" if c in fix_of
                 else f"• {self.label(c)}: {self.summary(c)}" for c in causes]
        unpaired = [f"• {self.label(f)}: {self.summary(f)}" for f in fixes if f not in fix_of.values()]
        rest = (self.config.replies["paired_rest"], "\n".join(unpaired)) if unpaired else ()
        sources = "\n".join(self.source(self._section(t)) for t in (cause, fix))
        return "\n\n".join((self.config.replies["paired_list"], "\n".join(lines), *rest, sources))

    def _arrow(self, cause: str, fix: str) -> str:
        """"Too much weight → Lighter weight"; one label when the cause and its fix share it ("Bench height")."""
        labels = dict.fromkeys((self.label(cause), self.label(fix)))
        return " → ".join(labels)

    def gist(self, topic: str) -> str:
        """The first sentence of the passage that answers a topic."""
        text = self.by_topic[topic][0].text.strip()
        match = _FIRST_SENTENCE.match(text)
        return match.group(1) if match else text

    def ask_about(self, topic: str) -> str:
        """The follow-up question offered for a topic."""
        named = self.config.topics.get(topic)
        if named:
            return named.ask
        template: str = self.config.intents[self.config.intent_of(topic)].get("ask", "{heading}?")
        return template.format(heading=self.headline(topic).lower())

    def suggestions(self, intent: str) -> tuple[str, ...]:
        """Follow-up questions offered after a reply of this intent."""
        return tuple(self.config.intents.get(intent, {}).get("suggestions", ()))

    def suggestions_for(self, topic: str, shown: tuple[str, ...]) -> tuple[str, ...]:
        """After an overview: its likeliest sub-topics not shown yet, then the intent's usual ones."""
        intent = self.config.intent_of(topic)
        usual = self.suggestions(intent)
        children = [t for t in self.children(topic) if t not in shown]
        if children:
            return (*(self.ask_about(t) for t in children[:2]), *usual[:1])
        return tuple(s for s in usual if s != self.ask_about(topic))

    def ungrounded_gists(self) -> list[str]:
        """Topics whose gist uses words its section does not (data checks call this at load)."""
        bad = []
        for topic, named in self.config.topics.items():
            if named.gist and topic in self.by_topic:
                section = self._section(topic)
                known = {w[:5] for w in words(f"{section.heading} {section.text}".lower())}
                if any(len(w) > 3 and w[:5] not in known for w in words(named.gist.lower())):
                    bad.append(topic)
        return bad

    def source(self, chunk: Chunk) -> str:
        """Where a passage comes from: its section, and its document unless it is the main article."""
        return source_line(chunk, chunk.document == self.primary)

    def summary(self, topic: str) -> str:
        """A topic's one-line gist: from intents.yaml, else its first sentence, shortened."""
        named = self.config.topics.get(topic)
        if named and named.gist:
            return named.gist
        return cut(self.gist(topic), 90)

    def _section(self, topic: str) -> Chunk:
        """The topic's own section (not an FAQ entry serving it)."""
        serving = self.by_topic[topic]
        return next((c for c in serving if c.id == topic), serving[0])


def source_line(chunk: Chunk, primary: bool = True) -> str:
    """Where a passage comes from: its section path, and the document when it is not the main article."""
    where = " › ".join(chunk.path)
    return f"📖 From “{where}”" + ("" if primary else f" ({chunk.document})")


def _is_under(chunk: Chunk, parent: Chunk) -> bool:
    return (chunk.source == parent.source and chunk.path[: len(parent.path)] == parent.path
            and len(chunk.path) > len(parent.path))


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a line, sentence or word boundary, marked with "…"."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    for boundary, keep, mark in (("\n", 0, ""), (". ", 1, ""), (" ", 0, " …")):
        at = head.rfind(boundary)
        if at > limit // 2:
            return head[: at + keep].rstrip() + mark
    return head.rstrip() + "…"
