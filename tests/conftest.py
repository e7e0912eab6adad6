"""Shared fixtures: every test run builds its index in a private cache folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HIPBOT_CACHE_DIR", tempfile.mkdtemp(prefix="hipbot-test-cache-"))

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
