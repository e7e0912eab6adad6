"""Load the Markdown articles under corpus/ and cut them into addressable chunks."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from ._errors import DataError
from ._model import Chunk

KINDS = ("cause", "fix", "red_flag", "about", "faq")
MAX_ARTICLE_BYTES = 2_000_000  # the article is about 20 kB; a 50 MB file took minutes and gigabytes
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*(?:\{#([\w.\-]+)((?:\s+\w+=[\w.\-]+)*)\s*\})?\s*$")
_SLUG = re.compile(r"[^a-z0-9]+")


def load_corpus(folder: Path) -> tuple[Chunk, ...]:
    """Every chunk of every `*.md` under `folder`, in file then document order."""
    if not folder.is_dir():
        raise DataError(str(folder), "", "corpus folder not found")
    try:
        files = sorted(folder.glob("**/*.md"))
    except OSError as exc:  # e.g. a folder symlink that loops
        raise DataError(str(folder), "", f"cannot list the corpus folder ({exc.strerror or exc})") from None
    if not files:
        raise DataError(str(folder), "", "no Markdown (*.md) articles in the corpus folder")
    chunks: list[Chunk] = []
    seen: dict[str, str] = {}
    for path in files:
        for chunk in parse_article(read_article(path), str(path)):
            if chunk.id in seen:
                raise DataError(str(path), f"#{chunk.id}", f"chunk id already used in {seen[chunk.id]}")
            seen[chunk.id] = str(path)
            chunks.append(chunk)
    return tuple(chunks)


def read_article(path: Path) -> str:
    """The text of one article; DataError (one line) for a file that is not a regular file (a FIFO would
    block for ever), cannot be opened (permissions, a symlink loop), is over MAX_ARTICLE_BYTES or is not
    UTF-8 text."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise DataError(str(path), "", "not a regular file")
        if info.st_size > MAX_ARTICLE_BYTES:
            raise DataError(str(path), "", f"{info.st_size:,} bytes: an article may have at most "
                                           f"{MAX_ARTICLE_BYTES:,}")
        with open(path, "rb") as file:
            data = file.read(MAX_ARTICLE_BYTES + 1)  # the size may have changed since stat()
    except OSError as exc:
        raise DataError(str(path), "", f"cannot read it ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_ARTICLE_BYTES:
        raise DataError(str(path), "", f"over {MAX_ARTICLE_BYTES:,} bytes: too big for an article")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(str(path), f"byte {exc.start}", "not UTF-8 text") from None
    if "\x00" in text:
        raise DataError(str(path), f"byte {data.index(0)}", "a binary file, not text") from None
    return text


def parse_article(markdown: str, source: str) -> list[Chunk]:
    """Chunks of one article: each heading with body text becomes one chunk."""
    meta, body, offset = _front_matter(markdown, source)
    title = str(meta.get("title") or "")
    chunks: list[Chunk] = []
    stack: list[tuple[int, str, str]] = []  # (level, heading, kind)
    current: dict[str, Any] | None = None
    lines: list[str] = []

    def flush() -> None:
        text = "\n".join(line for line in lines if line.strip()).strip()
        if current is not None and text:
            chunks.append(Chunk(text=text, document=title, source=source, **current))
        lines.clear()

    for number, line in enumerate(body.splitlines(), start=offset + 1):
        match = _HEADING.match(line)
        if not match:
            lines.append(line.rstrip())
            continue
        flush()
        level, heading, anchor, attrs = len(match[1]), match[2].strip(), match[3], match[4] or ""
        while stack and stack[-1][0] >= level:
            stack.pop()
        if level == 1 and not title:
            title = heading
        parent_kind = stack[-1][2] if stack else "about"
        chunk_id = anchor or f"{parent_kind}.{_SLUG.sub('_', heading.lower()).strip('_')}"
        kind = chunk_id.split(".", 1)[0]
        if kind not in KINDS:
            raise DataError(source, f"line {number}", f"id {chunk_id!r} must start with one of {', '.join(KINDS)}")
        options = dict(pair.split("=", 1) for pair in attrs.split())
        unknown = set(options) - {"topic"}
        if unknown:
            raise DataError(source, f"line {number}", f"unknown heading attribute {sorted(unknown)[0]!r}")
        path = tuple(h for lvl, h, _kind in stack if lvl != 1) + (heading,)
        stack.append((level, heading, kind))
        current = None if level == 1 else {
            "id": chunk_id, "topic": options.get("topic", chunk_id), "kind": kind, "heading": heading, "path": path,
        }
    flush()
    if not chunks:
        raise DataError(source, "", "no sections found (an article needs '## Heading' sections with text)")
    return chunks


def describe_sources(chunks: tuple[Chunk, ...]) -> str:
    """Each document hipbot answers from: title, author and attribution, from its front matter."""
    parts: list[str] = []
    for source in dict.fromkeys(c.source for c in chunks):
        document = next(c.document for c in chunks if c.source == source)
        meta = _front_matter(read_article(Path(source)), source)[0]
        kind = "Source" if not parts else "Also drawn on"
        author = f", by {meta['author']}" if meta.get("author") else ""
        attribution = str(meta.get("attribution") or "").strip()
        if document in attribution:  # the attribution names the title itself
            parts.append(f"{kind}: {attribution}")
        else:
            parts.append(f"{kind}: “{document}”{author}." + (f"\n{attribution}" if attribution else ""))
    return "\n\n".join(parts)


def _front_matter(markdown: str, source: str) -> tuple[dict[str, Any], str, int]:
    """The YAML front matter (title, author, attribution...) and the body after it."""
    if not markdown.startswith("---\n"):
        return {}, markdown, 0
    end = markdown.find("\n---\n", 4)
    if end < 0:
        raise DataError(source, "line 1", "front matter is not closed with '---'")
    try:
        meta = yaml.safe_load(markdown[4:end]) or {}
    except yaml.YAMLError as exc:
        raise DataError(source, "front matter", f"invalid YAML ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict):
        raise DataError(source, "front matter", "expected key: value pairs")
    return meta, markdown[end + 5:], markdown[: end + 5].count("\n")
