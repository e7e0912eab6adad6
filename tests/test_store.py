"""The conversation store under faults: a failed batch is kept and retried, an unstorable chat is skipped alone,
and `hipbot telegram` exits non-zero when conversations could not be saved at stop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from _drivers import until
from bot.telegram import ChatStore

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:" + "A" * 35
FULL = "PRAGMA max_page_count = {}"
ROOMY = 1_073_741_823


def _fill_up(store: ChatStore) -> None:
    """The file may not grow any more: SQLite answers 'database or disk is full', as on a full disk."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(FULL.format(pages))


def _stored(path: Path) -> dict[int, Any]:
    async def load() -> dict[int, Any]:
        store = ChatStore(path)
        try:
            return await store.get_chat_data()
        finally:
            await store.flush()

    return asyncio.run(load())


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
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    from bot.cli import _parser

    args: argparse.Namespace = _parser().parse_args(["telegram", "--persistence", str(tmp_path / "s.sqlite3")])
    assert app.run_telegram(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("hipbot: error: 1 conversations could not be saved to") and err.count("\n") == 1


HEALTHY_ROWS = {1: {"n": 1}, 2: {"n": 2}}


def _healthy_store(path: Path) -> None:
    async def write() -> None:
        store = ChatStore(path)
        await store.get_chat_data()
        for chat, data in HEALTHY_ROWS.items():
            await store.update_chat_data(chat, data)
        await store.flush()

    asyncio.run(write())


def test_a_store_that_cannot_be_read_is_one_line_and_exit_2_and_stays_where_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A healthy store this user may not read (owned by another user): never moved aside."""
    from bot.cli import main as cli_main

    path = tmp_path / "telegram.sqlite3"
    _healthy_store(path)
    before = path.read_bytes()
    if os.geteuid() == 0:  # root reads any file: make the check meet what another user would
        import bot.telegram._store as store_module

        def denied(file: Path) -> bool:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))

        monkeypatch.setattr(store_module, "has_header", denied)
    else:
        path.chmod(0)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    status = cli_main(["telegram", "--persistence", str(path), "--base-url", "http://127.0.0.1:9/bot"])
    path.chmod(0o600)
    assert status == 2
    assert capsys.readouterr().err == f"hipbot: error: cannot use the conversation store {path} (Permission denied)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["telegram.sqlite3", "telegram.sqlite3.lock"]
    assert path.read_bytes() == before


def test_an_io_error_while_checking_the_store_is_not_corruption(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "telegram.sqlite3"
    _healthy_store(path)
    real_connect = sqlite3.connect

    def failing(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        error = sqlite3.OperationalError("disk I/O error")
        error.sqlite_errorname = "SQLITE_IOERR_SHMOPEN"  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(sqlite3, "connect", failing)
    with pytest.raises(OSError, match="disk I/O error"):
        ChatStore(path)
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    assert not list(tmp_path.glob("*.unreadable-*"))
    assert {chat: data["n"] for chat, data in _stored(path).items()} == {1: 1, 2: 2}


def test_a_leftover_write_ahead_log_is_recovered(tmp_path: Path) -> None:
    """A kill leaves the last batches in the -wal file only: they are replayed, not discarded."""
    live, crashed = tmp_path / "live.sqlite3", tmp_path / "crashed.sqlite3"
    _healthy_store(live)
    db = sqlite3.connect(live)
    db.execute("PRAGMA wal_autocheckpoint = 0")
    with db:
        db.execute("INSERT INTO chats (id, data, touched) VALUES (3, ?, ?)", ('{"n": 3}', time.time()))
    shutil.copyfile(live, crashed)  # what the disk holds at the kill: the file and its log, no -shm
    shutil.copyfile(live.with_name(live.name + "-wal"), crashed.with_name(crashed.name + "-wal"))
    db.close()
    main_only = tmp_path / "main-only.sqlite3"
    shutil.copyfile(crashed, main_only)
    with contextlib.closing(sqlite3.connect(main_only)) as plain:
        assert plain.execute("SELECT count(*) FROM chats WHERE id = 3").fetchone() == (0,)  # only in the log
    assert {chat: data["n"] for chat, data in _stored(crashed).items()} == {1: 1, 2: 2, 3: 3}
    assert not list(tmp_path.glob("*.unreadable-*"))


def test_one_store_one_owner(tmp_path: Path) -> None:
    path = tmp_path / "telegram.sqlite3"

    async def session() -> None:
        first = ChatStore(path)
        await first.get_chat_data()
        with pytest.raises(OSError, match=rf"another hipbot is using it \(process {os.getpid()}\)"):
            ChatStore(path)
        await first.flush()  # closed: the next owner may open it
        second = ChatStore(path)
        await second.flush()

    asyncio.run(session())
    assert not list(tmp_path.glob("*.unreadable-*"))


def test_loaded_chats_share_their_strings(tmp_path: Path) -> None:
    """After a restart every chat's data comes from JSON; equal strings are one object, not one per chat."""
    path = tmp_path / "store.sqlite3"

    async def write() -> None:
        store = ChatStore(path)
        await store.get_chat_data()
        for chat in (1, 2):
            await store.update_chat_data(chat, {"suggestions": ["How do I fix it?"], "state": {"topic": "fix.x"}})
        await store.flush()

    asyncio.run(write())
    loaded = _stored(path)
    assert loaded[1]["suggestions"][0] is loaded[2]["suggestions"][0]
    assert loaded[1]["state"]["topic"] is loaded[2]["state"]["topic"]
