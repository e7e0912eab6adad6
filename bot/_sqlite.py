"""Private SQLite files (the Telegram conversation store, the review inbox): the pieces both need."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

HEADER = b"SQLite format 3\x00"


def create_private(path: Path) -> None:
    """Create the file if missing, mode 0600, in a folder created 0700; OSError if that cannot be done."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    path.chmod(0o600)


def has_header(path: Path) -> bool:
    """Whether the file starts like an SQLite database (an empty file does not)."""
    with path.open("rb") as file:
        return file.read(len(HEADER)) == HEADER


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    """The column names of `table` (empty when there is no such table)."""
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def sidecars(path: Path) -> tuple[Path, Path]:
    """The write-ahead log and shared-memory files SQLite keeps beside a WAL database."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def keep_private(path: Path) -> None:
    """Mode 0600 for the sidecars too: the log holds the same data as the file."""
    for sidecar in sidecars(path):
        if sidecar.exists():
            sidecar.chmod(0o600)
