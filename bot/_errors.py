"""Errors that name the file, the place and the problem in one line."""

from __future__ import annotations


class DataError(Exception):
    """A corpus or intents file that cannot be used as it is."""

    def __init__(self, path: str, place: str, problem: str) -> None:
        self.path, self.place, self.problem = path, place, problem
        where = f"{path}: {place}" if place else path
        super().__init__(f"{where}: {problem}")


class InboxError(OSError):
    """The review inbox file cannot be used; the message is one line naming the path."""
