"""The review inbox (opt-in): questions hipbot could not answer well, kept for a maintainer's look.

Only the question text and what hipbot made of it are stored (intent, topic, confidence, why it was
kept, when, to the hour): no chat, user or session id. The file is private (0600), in WAL mode, and
forgets rows older than the retention. `group` clusters similar wordings, `render` lists them for
`hipbot review`, and `export_stubs` writes them as a labelled-set file to finish by hand.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import yaml
from rapidfuzz import fuzz, process

from ._errors import InboxError as InboxError  # part of this module's interface: Inbox raises it
from ._model import DAY, INTENTS, Answer, Reply, State
from ._sqlite import columns, create_private, has_header, keep_private
from ._text import normalize, words

logger = logging.getLogger("bot.review")

MAX_TEXT = 2000  # characters of a question that are kept
STAMP_STEP = 3600.0  # stored times are rounded down to the hour, so they cannot pin a message to a chat log
# answered on purpose: safety, small talk, the guided check
NEVER_CONSIDERED = frozenset({"red_flag", "greeting", "check"})
COLUMNS = ("text", "intent", "topic", "confidence", "reason", "stored_at")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS questions ("
    "text TEXT NOT NULL, intent TEXT NOT NULL, topic TEXT NOT NULL, confidence REAL NOT NULL, "
    "reason TEXT NOT NULL, stored_at REAL NOT NULL)"  # reason: out_of_scope, low_confidence or unhelpful
)
INDEX = "CREATE INDEX IF NOT EXISTS questions_stored_at ON questions (stored_at)"


@dataclass(frozen=True)
class Entry:
    """One stored question and what hipbot made of it."""

    text: str
    intent: str
    topic: str
    confidence: float
    reason: str
    stored_at: float


@dataclass(frozen=True)
class Group:
    """Similar wordings of one question; `intent` and `topic` are hipbot's most common choice for them."""

    text: str
    entries: tuple[Entry, ...]
    intent: str
    topic: str

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def wordings(self) -> list[str]:
        """The other distinct wordings, most asked first."""
        asked = Counter(_plain(e.text) for e in self.entries)
        first: dict[str, str] = {}
        for e in self.entries:
            first.setdefault(_plain(e.text), e.text)
        return [first[plain] for plain, _ in asked.most_common() if plain != _plain(self.text)]

    @property
    def reasons(self) -> Counter[str]:
        return Counter(e.reason for e in self.entries)


def _sure() -> float:
    """routing.sure of the engine that answers: below it an answer is unsure enough for the inbox."""
    from ._engine import default_engine

    return default_engine().config.routing.sure


class Inbox:
    """Questions worth a maintainer's look, kept in a local SQLite file (WAL mode).

    Safe to share between threads and processes. Storing never raises: a failure is logged and
    reported as "not stored", so answering goes on. Opening, reading and purging raise InboxError.
    """

    def __init__(self, path: Path | str, retention_days: float = 30.0, now: Callable[[], float] = time.time,
                 timeout: float = 10.0) -> None:
        if not retention_days > 0:  # also rejects NaN
            raise ValueError("retention_days must be positive")
        self.path = Path(path).expanduser()
        self.retention = retention_days * DAY
        self.now = now
        self._lock = threading.Lock()
        self._db = _connect(self.path, timeout)  # how long a write waits for another process's lock
        try:
            with self._db:
                self._forget_old()
        except sqlite3.Error as exc:
            self._db.close()
            raise InboxError(f"{self.path}: cannot write the review inbox ({exc})") from None

    def consider(self, text: str, reply: Reply, threshold: float | None = None) -> bool:
        """Store `text` if the reply was out_of_scope or, for cause/fix/about, less confident than `threshold`
        (by default intents.yaml's routing.sure: the answers that end by asking whether they were the one meant).

        Red flags, greetings and the guided check are answered on purpose and never stored.
        Returns whether the question was stored.
        """
        if reply.intent in NEVER_CONSIDERED:
            return False
        if reply.intent == "out_of_scope":
            return self._store(text, reply, "out_of_scope")
        if reply.confidence < (_sure() if threshold is None else threshold):
            return self._store(text, reply, "low_confidence")
        return False

    def mark_unhelpful(self, text: str, reply: Reply) -> bool:
        """Store a question whose answer the user marked unhelpful, whatever its intent;
        returns whether it was stored."""
        return self._store(text, reply, "unhelpful")

    def entries(self) -> list[Entry]:
        """The questions kept within the retention, oldest first."""
        try:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {', '.join(COLUMNS)} FROM questions WHERE stored_at >= ? ORDER BY stored_at, rowid",
                    (self._cutoff(),),
                ).fetchall()
        except sqlite3.Error as exc:
            raise InboxError(f"{self.path}: cannot read the review inbox ({exc})") from None
        return [Entry(*row) for row in rows]

    def purge(self) -> int:
        """Delete every stored question (overwritten on disk, the write-ahead log emptied too);
        returns how many there were."""
        try:
            with self._lock:
                with self._db:
                    count = self._db.execute("DELETE FROM questions").rowcount
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return count
        except sqlite3.Error as exc:
            raise InboxError(f"{self.path}: cannot purge the review inbox ({exc})") from None

    def close(self) -> None:
        """Close the file (again is harmless)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _store(self, text: str, reply: Reply, reason: str) -> bool:
        text = str(text).strip()[:MAX_TEXT]
        if not text:
            return False
        stamp = math.floor(self.now() / STAMP_STEP) * STAMP_STEP
        row = (text, str(reply.intent), str(reply.topic), float(reply.confidence), reason, stamp)
        try:
            with self._lock, self._db:
                self._forget_old()
                self._db.execute(f"INSERT INTO questions ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)", row)
        except sqlite3.Error as exc:
            logger.warning("The review inbox %s could not store a question (%s).", self.path, exc)
            return False
        return True

    def _cutoff(self) -> float:
        return self.now() - self.retention

    def _forget_old(self) -> None:
        self._db.execute("DELETE FROM questions WHERE stored_at < ?", (self._cutoff(),))


class InboxQueue:
    """The inbox's writes on a thread of their own, through a small bounded queue, for a bot that must not
    wait: `consider` and `mark_unhelpful` return at once; when the queue is full (the file locked by another
    process, a slow disk) the question is dropped, counted and logged without its text."""

    def __init__(self, inbox: Inbox, size: int = 32) -> None:
        self.inbox = inbox
        self.dropped = 0
        self._queue: queue.Queue[tuple[Callable[[str, Reply], bool], str, Reply] | None] = queue.Queue(size)
        self._thread = threading.Thread(target=self._run, name="hipbot-review-inbox", daemon=True)
        self._thread.start()

    def consider(self, text: str, reply: Reply) -> None:
        """Queue `Inbox.consider(text, reply)`."""
        self._put((self.inbox.consider, text, reply))

    def mark_unhelpful(self, text: str, reply: Reply) -> None:
        """Queue `Inbox.mark_unhelpful(text, reply)`."""
        self._put((self.inbox.mark_unhelpful, text, reply))

    def join(self) -> None:
        """Wait until everything queued so far was written (or failed)."""
        self._queue.join()

    def stop(self, timeout: float = 2.0) -> None:
        """Write what is queued, waiting at most about `timeout` seconds, and end the thread (the inbox
        stays open: it is its opener's to close)."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    def _put(self, item: tuple[Callable[[str, Reply], bool], str, Reply]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            logger.warning("The review inbox %s is busy: a question was not stored (%d dropped so far).",
                           self.inbox.path, self.dropped)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                store, text, reply = item
                store(text, reply)  # logs its own failures, never raises sqlite3 errors
            except Exception as exc:  # noqa: BLE001 - the writer must outlive one bad write
                logger.warning("The review inbox could not store a question (%s).", type(exc).__name__)
            finally:
                self._queue.task_done()


def _connect(path: Path, timeout: float = 10.0) -> sqlite3.Connection:
    """Open (or create: file 0600, folder 0700) the inbox; InboxError if the file is something else."""
    try:
        if path.is_file() and path.stat().st_size and not has_header(path):
            raise InboxError(f"{path}: not a review inbox (not an SQLite file)")
        create_private(path)
    except InboxError:
        raise
    except OSError as exc:
        raise InboxError(f"{path}: cannot open the review inbox ({exc.strerror or exc})") from None
    db = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    try:
        db.execute("PRAGMA secure_delete=ON")  # deleted questions are overwritten, whatever SQLite's build default
        db.execute("PRAGMA journal_mode=WAL")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "questions" not in tables:
            raise InboxError(f"{path}: not a review inbox (it holds other tables)")
        found = columns(db, "questions")
        if found and found != set(COLUMNS):
            raise InboxError(f"{path}: not a review inbox (unexpected columns: {', '.join(sorted(found))})")
        with db:
            db.execute(SCHEMA)
            db.execute(INDEX)
    except InboxError:
        db.close()
        raise
    except sqlite3.Error as exc:
        db.close()
        raise InboxError(f"{path}: not a usable review inbox ({exc})") from None
    keep_private(path)
    return db


# Words that do not tell questions apart here: function words, and the frame nearly every message shares.
_FILLER = frozenset("""
a an the i i'm im i've ive me my mine you your it it's its is are was were be been being am do does did doing done
have has had can could should would will shall may might must to of in on at for with from by about into over
after before during up down out off than then so too very just really also and or but if when while what whats what's
why how which who where there here this that these those some any much get got getting feel feels felt please pls
thanks thank hey hi ok okay like each per every any
hip hips thrust thrusts thrusting thruster machine back lower pain painful hurt hurts hurting ache aches aching sore
""".split())


def _plain(text: str) -> str:
    """A wording without case, punctuation or spacing differences."""
    return " ".join(words(normalize(text))) or normalize(text)


def _key(text: str) -> str:
    """The words that carry a question's meaning, plurals folded; all its words if none is left."""
    said = words(normalize(text))
    kept = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in said if w not in _FILLER]
    return " ".join(kept or said) or normalize(text)


def _same_word(a: str, b: str) -> bool:
    """Typos and forms of one word: "protien"/"protein", "bulk"/"bulking", "roller"/"rolling"."""
    if fuzz.ratio(a, b) >= 80:
        return True
    common = len(os.path.commonprefix((a, b)))
    return common >= 4 and common >= 0.6 * min(len(a), len(b))


def _spellings(keys: Counter[str]) -> dict[str, str]:
    """Each word of the keys mapped to the most used word it is a form or typo of."""
    used = Counter[str]()
    for key, n in keys.items():
        for word in key.split():
            used[word] += n
    canonical: dict[str, str] = {}
    kept: list[str] = []
    by_start: dict[str, list[str]] = {}
    for word, _ in used.most_common():
        near = [w for w, _, _ in process.extract(word, kept, scorer=fuzz.ratio, score_cutoff=80, limit=None)]
        same = next((w for w in by_start.get(word[:4], []) + near if _same_word(word, w)), None)
        canonical[word] = same or word
        if same is None:
            kept.append(word)
            by_start.setdefault(word[:4], []).append(word)
    return canonical


def _similarity(a: str, b: str) -> float:
    """0-100: rapidfuzz's token-set and token-sort ratios averaged; 0 unless more than half of the
    words are shared (so "neck hurts" and "knee hurts" stay apart)."""
    left, right = set(a.split()), set(b.split())
    if 2 * len(left & right) <= (len(left) + len(right)) / 2:
        return 0.0
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2


def group(entries: Sequence[Entry], threshold: float = 80.0) -> list[Group]:
    """Cluster similar questions (similarity 0-100 on their meaningful words), largest group first.

    Most asked first, each wording joins the group whose every wording is at least `threshold`
    similar to it (the most similar such group), or starts its own; the first wording represents it.
    """
    keyed = [(_key(e.text), e) for e in entries]
    spelling = _spellings(Counter(k for k, _ in keyed))
    by_key: dict[str, list[Entry]] = {}
    for key, entry in keyed:
        by_key.setdefault(" ".join(spelling[w] for w in key.split()), []).append(entry)
    keys = sorted(by_key, key=lambda k: -len(by_key[k]))  # stable: first asked first among equals
    placed: list[str] = []
    group_of: dict[str, int] = {}
    members: list[list[str]] = []
    for key in keys:
        # token_ratio (the higher of token-set and token-sort) bounds the similarity: a cheap first pass.
        near = {k for k, _, _ in process.extract(key, placed, scorer=fuzz.token_ratio, score_cutoff=threshold,
                                                 limit=None)}
        best, best_score = None, threshold
        for g in sorted({group_of[k] for k in near}):
            if near.issuperset(members[g]):  # like every wording of the group, not just one (no chains)
                score = min(_similarity(key, k) for k in members[g])
                if score > best_score or (best is None and score >= best_score):
                    best, best_score = g, score
        if best is None:
            best = len(members)
            members.append([])
        group_of[key] = best
        members[best].append(key)
        placed.append(key)
    groups = []
    for keys_of_group in members:
        kept = tuple(e for k in keys_of_group for e in by_key[k])
        representative = Counter(e.text for e in by_key[keys_of_group[0]]).most_common(1)[0][0]
        (intent, topic), _ = Counter((e.intent, e.topic) for e in kept).most_common(1)[0]
        groups.append(Group(representative, kept, intent, topic))
    groups.sort(key=lambda g: (-g.count, -max(e.stored_at for e in g.entries)))
    return groups


STUB_HEADER = """\
# Questions from the review inbox, as stubs of a labelled set (`hipbot eval FILE` runs as it is).
# intent and topic are hipbot's guesses, NOT labels: check each item, correct intent/topic,
# add evidence if you like, then delete needs_label and the informational fields (asked, reasons,
# hipbot_confidence, other_wordings). other_wordings can become items of their own.
"""


def export_stubs(groups: Sequence[Group], path: Path) -> int:
    """Write one labelled-set item per group to `path` (YAML, the eval schema plus notes); returns the item count."""
    items = []
    for n, g in enumerate(groups, 1):
        intent = g.intent if g.intent in INTENTS else "out_of_scope"  # the evaluator accepts only known intents
        item: dict[str, object] = {"id": f"review-{n:03d}", "text": g.text, "intent": intent, "topic": g.topic,
                                   "needs_label": True, "asked": g.count,
                                   "reasons": dict(sorted(g.reasons.items())),
                                   "hipbot_confidence": round(sum(e.confidence for e in g.entries) / g.count, 3)}
        if g.wordings:
            item["other_wordings"] = g.wordings
        items.append(item)
    body = yaml.safe_dump({"version": 1, "items": items}, sort_keys=False, allow_unicode=True, width=100)
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as file:
            file.write(STUB_HEADER + body)  # users' questions: private, like the inbox itself
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return len(items)


def _line(text: str, width: int = 110) -> str:
    """One printable line: whitespace collapsed, control characters (terminal escapes) blanked, cut to `width`."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render(groups: Sequence[Group], wordings: int = 3) -> str:
    """The listing for `hipbot review`: largest group first,
    with its count, topic and up to `wordings` other wordings."""
    if not groups:
        return "The review inbox is empty."
    total = sum(g.count for g in groups)
    lines = [f"{total} question{'s' * (total != 1)} in {len(groups)} group{'s' * (len(groups) != 1)}, "
             "most asked first."]
    for g in groups:
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(g.reasons.items()))
        lines += ["", f"{g.count:>4}x  {g.topic}  ({why})", f"       {_line(g.text)}"]
        others = g.wordings
        for text in others[:wordings]:
            lines.append(f"       ~ {_line(text)}")
        if len(others) > wordings:
            lines.append(f"       ~ ... and {len(others) - wordings} more")
    return "\n".join(lines)


def watched(answer: Answer, inbox: Inbox) -> Answer:
    """`answer`, with every reply offered to the inbox (which keeps only the ones worth a look)."""

    def answer_and_consider(text: str, state: State | None = None) -> Reply:
        reply = answer(text, state)
        inbox.consider(text, reply)
        return reply

    return answer_and_consider
