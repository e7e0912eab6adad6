"""Corpus files that cannot be articles are one error line and exit 2: never a traceback, a hang or minutes
of work on a huge file."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import default_engine

ROOT = Path(__file__).resolve().parent.parent


def _binary(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))


def _nul_bytes(path: Path) -> None:
    path.write_bytes(b"# Notes\n\n## Bench {#cause.bench_x}\n\nText\x00\x00\x00 more\n")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _loop(path: Path) -> None:
    path.symlink_to(path.name)


def _huge(path: Path) -> None:
    section = "## Bench {#faq.bench}\n\n" + "The bench height matters a lot. " * 40 + "\n\n"
    path.write_text("# Huge\n\n" + section * (2_100_000 // len(section)))


@pytest.mark.parametrize(("make", "problem"), [
    (_binary, "byte 0: not UTF-8 text"),
    (_nul_bytes, "a binary file, not text"),
    (_fifo, "not a regular file"),
    (_loop, "cannot read it (Too many levels of symbolic links)"),
    (_huge, "bytes: an article may have at most 2,000,000"),
], ids=["binary", "nul-bytes", "fifo", "symlink-loop", "over-2-MB"])
def test_a_file_that_cannot_be_an_article_is_one_line_and_exit_2(
        make: Callable[[Path], None], problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    bad = corpus / "zz-bad.md"
    make(bad)
    monkeypatch.setenv("HIPBOT_CORPUS", str(corpus))
    default_engine.cache_clear()  # the default engine reads the files named by the environment
    try:
        assert main(["ask", "why does my back hurt?"]) == 2
    finally:
        default_engine.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith(f"hipbot: error: {bad}: ") and err.count("\n") == 1, err
    assert problem in err
