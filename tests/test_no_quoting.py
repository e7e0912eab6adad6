"""Knowledge is learned, not copied: no pattern or example in intents.yaml quotes a labelled item."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml

from bot._text import normalize

ROOT = Path(__file__).resolve().parent.parent
LABELLED = sorted((ROOT / "tests" / "data").glob("*.yaml")) + sorted((ROOT.parent / "shared" / "eval").glob("*.yaml"))
MIN_WORDS = 5  # shorter items ("thanks mate", "hi") are common phrases, not quotes


@functools.cache  # parsing every labelled set takes seconds; the tests only read the result
def _labelled_texts() -> frozenset[str]:
    texts: set[str] = set()
    for path in LABELLED:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        items = list(data.get("items") or [])
        items += [turn for conversation in data.get("conversations") or [] for turn in conversation["turns"]]
        texts.update(normalize(str(item["text"])) for item in items)
    return frozenset(t for t in texts if len(t.split()) >= MIN_WORDS)


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


@pytest.fixture(scope="module")
def knowledge() -> dict:
    return yaml.safe_load((ROOT / "intents.yaml").read_text(encoding="utf-8"))


def test_the_labelled_sets_are_there():
    assert len(_labelled_texts()) > 1000


def test_no_example_or_sign_quotes_a_labelled_item(knowledge):
    labelled = _labelled_texts()
    taught = {normalize(s) for key in ("examples", "signs", "not_signs") for s in _strings(knowledge[key])}
    assert not (labelled & taught)


def test_no_pattern_quotes_a_labelled_item(knowledge):
    """A pattern's literal text (its regex syntax dropped) never holds a labelled item's words in order."""
    patterns = [s for key, value in knowledge.items() if key not in ("examples", "signs", "not_signs", "copy",
                                                                      "replies", "topics", "intents", "tiers")
                for s in _strings(value)]
    literal = [re.sub(r"\s+", " ", re.sub(r"\\[bwsWd]|[\\()?:|\[\]{}*+^$.!<=]", " ", p)).strip() for p in patterns]
    quoted = [text for text in _labelled_texts() if any(text in p for p in literal)]
    assert not quoted
