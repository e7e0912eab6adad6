"""The conversation store under faults: a failed batch is kept and retried, an unstorable chat is skipped alone,
and `hipbot telegram` exits non-zero when conversations could not be saved at stop."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.telegram import ChatStore

FULL = "PRAGMA max_page_count = {}"
ROOMY = 1_073_741_823


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `predicate()` holds, checking often; TimeoutError after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


def _fill_up(store: ChatStore) -> None:
    """The file may not grow any more: SQLite answers 'database or disk is full', as on a full disk."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(FULL.format(pages))


def _stored(path: Path) -> dict[int, Any]:
    return asyncio.run(ChatStore(path).get_chat_data())


def test_a_failed_batch_is_kept_and_written_once_the_disk_recovers(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "store.sqlite3"

    async def session() -> None:
        store = ChatStore(path, first_retry=0.05)
        await store.get_chat_data()
        _fill_up(store)
        with caplog.at_level(logging.WARNING):
            await asyncio.gather(*(store.update_chat_data(c, {"state": {"topic": "x" * 500}}) for c in range(350)))
        assert store.pending == 350  # not written, not lost
        assert "Could not write 350 conversations" in caplog.text and "database or disk is full" in caplog.text
        await until(lambda: "retrying in 0.1 s" in caplog.text)  # the retries fail too, and back off
        store._db.execute(FULL.format(ROOMY))  # space again: the retry writes them, with no new change
        await until(lambda: store.pending == 0)
        await store.flush()
        assert store.unsaved == 0

    asyncio.run(session())
    assert len(_stored(path)) == 350
    assert "x" * 500 not in caplog.text


def test_a_clean_stop_after_the_disk_recovered_writes_everything(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"

    async def session() -> None:
        store = ChatStore(path, first_retry=3600)  # no retry before the stop
        await store.get_chat_data()
        _fill_up(store)
        await asyncio.gather(*(store.update_chat_data(c, {"n": "y" * 500}) for c in range(200)))
        assert store.pending == 200
        await store.update_chat_data(7, {"n": "newer"})  # a change after the failure wins over the kept batch
        store._db.execute(FULL.format(ROOMY))
        await store.flush()
        assert store.unsaved == 0

    asyncio.run(session())
    stored = _stored(path)
    assert len(stored) == 200 and stored[7]["n"] == "newer"


def test_what_cannot_be_saved_at_stop_is_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "store.sqlite3"

    async def session() -> int:
        store = ChatStore(path, first_retry=3600)
        await store.get_chat_data()
        _fill_up(store)
        await asyncio.gather(*(store.update_chat_data(c, {"n": "y" * 500}) for c in range(100)))
        with caplog.at_level(logging.ERROR):
            await store.flush()
        return store.unsaved

    assert asyncio.run(session()) == 100
    assert "100 conversations could not be saved" in caplog.text


def test_an_unstorable_chat_is_skipped_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "store.sqlite3"

    async def session() -> ChatStore:
        store = ChatStore(path)
        await store.get_chat_data()
        with caplog.at_level(logging.WARNING):
            await asyncio.gather(store.update_chat_data(1, {"n": 1}), store.update_chat_data(2**63, {"n": "secret"}),
                                 store.update_chat_data(3, {"n": {1, 2}}), store.update_chat_data(4, {"n": 4}))
        await store.flush()
        return store

    store = asyncio.run(session())
    assert (store.skipped, store.unsaved) == (2, 0)
    assert sorted(_stored(path)) == [1, 4]
    assert "Skipped 2 conversations that cannot be stored" in caplog.text
    assert str(2**63) not in caplog.text and "secret" not in caplog.text


def test_hipbot_telegram_exits_1_when_conversations_were_not_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import bot.telegram._app as app

    async def served_until_a_full_disk(application: Any, **kwargs: Any) -> None:
        store = application.persistence
        await store.get_chat_data()
        _fill_up(store)
        await store.update_chat_data(5, {"n": "z" * 5000})
        await store.flush()

    monkeypatch.setattr(app, "serve_polling", served_until_a_full_disk)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:" + "A" * 35)
    from bot.cli import _parser

    args: argparse.Namespace = _parser().parse_args(["telegram", "--persistence", str(tmp_path / "s.sqlite3")])
    assert app.run_telegram(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("hipbot: error: 1 conversations could not be saved to") and err.count("\n") == 1
