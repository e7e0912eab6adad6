"""Shared fixtures: every test run builds its index in a private cache folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if not os.environ.get("HIPBOT_CACHE_DIR"):  # set (and shared with the xdist workers) unless given
    os.environ["HIPBOT_CACHE_DIR"] = tempfile.mkdtemp(prefix="hipbot-test-cache-")

from bot import Reply, State, default_engine  # noqa: E402


@pytest.fixture(scope="session")
def engine():
    """The engine over the project's own corpus and intents.yaml."""
    return default_engine()


@pytest.fixture
def converse(engine) -> Callable[..., list[Reply]]:
    """Send messages one after another in one conversation; returns every reply."""

    def run(*messages: str) -> list[Reply]:
        state, replies = State(), []
        for message in messages:
            reply = engine.answer(message, state)
            replies.append(reply)
            state = reply.state
        return replies

    return run


TINY_TOPICS = ("cause.bench_height", "fix.bench_height", "cause.pad_position", "fix.pad_position", "about.muscles",
               "red_flag.general", "red_flag.numbness", "red_flag.emergency", "red_flag.urgent")


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    """A small copy of the knowledge to change and rebuild in well under a second: nine sections of
    the article, intents.yaml with a few examples per topic, check.yaml for the causes left."""
    import yaml

    from bot import load_corpus

    chunks = {c.id: c for c in load_corpus(ROOT / "corpus")}
    sections = "".join(f"## {chunks[t].heading} {{#{t}}}\n\n{chunks[t].text}\n\n" for t in TINY_TOPICS)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "tiny.md").write_text(
        f"---\ntitle: Tiny Hip Thrust Notes\nauthor: Test\n---\n# Tiny Hip Thrust Notes\n\n{sections}")
    served = set(TINY_TOPICS)

    def kept(topic: str) -> bool:
        return topic in served or topic.split(".")[0] in ("greeting", "out_of_scope")

    intents = yaml.safe_load((ROOT / "intents.yaml").read_text())
    intents["examples"] = {t: e[:6] for t, e in intents["examples"].items() if kept(t)}
    intents["pairs"] = {c: f for c, f in intents["pairs"].items() if c in served and f in served}
    intents["topics"] = {t: v for t, v in intents["topics"].items() if t in served}
    picture = intents["picture"]
    for block in ("labels", "wrong_labels"):
        picture[block] = {n: v for n, v in picture[block].items() if v["section"] in served}
    picture["offer_after"] = [t for t in picture["offer_after"] if t in served]
    (tmp_path / "intents.yaml").write_text(yaml.safe_dump(intents, allow_unicode=True, sort_keys=False))

    check = yaml.safe_load((ROOT / "check.yaml").read_text())
    check["priors"] = {c: w for c, w in check["priors"].items() if c in served}
    check["evidence"] = {c: p for c, p in check.get("evidence", {}).items() if c in served}
    for question in check["questions"]:
        for choice in question["choices"]:
            choice["weights"] = {c: w for c, w in choice["weights"].items() if c in served}
    (tmp_path / "check.yaml").write_text(yaml.safe_dump(check, allow_unicode=True, sort_keys=False))
    return tmp_path


@pytest.fixture
def tiny_engine(tiny_project: Path) -> Callable[[], object]:
    """Build (or load from the project's own cache) an Engine over the tiny project."""
    from bot import Engine

    def build() -> Engine:
        return Engine(tiny_project / "corpus", tiny_project / "intents.yaml", cache=tiny_project / "cache",
                      check=tiny_project / "check.yaml")

    return build
