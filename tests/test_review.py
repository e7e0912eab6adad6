"""The review inbox: what is kept, for how long, how privately, and how it is grouped and exported."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import stat
from pathlib import Path

import pytest
import yaml

from _drivers import article_reply, declined_reply, red_flag_reply
from bot import Reply
from bot._model import DAY
from bot.cli import main as hipbot
from bot.evaluate import load_cases
from bot.review import COLUMNS, MAX_TEXT, Entry, Inbox, InboxError, export_stubs, group, render

# What the inbox keeps depends on the reply only (its intent and confidence), so these tests hand it replies
# shaped like the core's, with the confidence they need, instead of hunting the classifier for one.
CONFIDENT = "why does my lower back ache when I do hip thrusts on the machine"
OFF_TOPIC = "what's the best protein powder for bulking"
VAGUE = "lockout feels off"


def confident_reply() -> tuple[str, Reply]:
    return CONFIDENT, article_reply(CONFIDENT, confidence=0.9)


def vague_reply() -> tuple[str, Reply]:
    return VAGUE, article_reply(VAGUE, confidence=0.3)


def rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM questions").fetchall()


def test_a_confident_in_scope_answer_is_not_stored(tmp_path: Path) -> None:
    text, reply = confident_reply()
    with Inbox(tmp_path / "inbox.sqlite3") as inbox:
        assert inbox.consider(text, reply) is False
        assert inbox.entries() == []
    assert rows(tmp_path / "inbox.sqlite3") == []


def test_out_of_scope_and_low_confidence_are_stored_with_what_hipbot_made_of_them(tmp_path: Path) -> None:
    off = declined_reply()
    vague_text, vague = vague_reply()
    path = tmp_path / "inbox.sqlite3"
    with Inbox(path, now=lambda: 1_000_000.0) as inbox:
        assert inbox.consider(OFF_TOPIC, off)
        assert inbox.consider(vague_text, vague)
        stored = inbox.entries()
    assert [(e.text, e.intent, e.topic, e.confidence, e.reason) for e in stored] == [
        (OFF_TOPIC, "out_of_scope", off.topic, off.confidence, "out_of_scope"),
        (vague_text, vague.intent, vague.topic, vague.confidence, "low_confidence"),
    ]
    assert all(e.stored_at == 997_200.0 for e in stored)  # the hour, not the second
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(questions)")]
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["questions"]
    assert columns == list(COLUMNS) == ["text", "intent", "topic", "confidence", "reason", "stored_at"]
    assert len(rows(path)) == 2


def test_the_threshold_decides_what_counts_as_low_confidence(tmp_path: Path) -> None:
    text, reply = confident_reply()
    with Inbox(tmp_path / "inbox.sqlite3") as inbox:
        assert inbox.consider(text, reply, threshold=reply.confidence) is False
        assert inbox.consider(text, reply, threshold=reply.confidence + 0.01) is True
        assert [e.reason for e in inbox.entries()] == ["low_confidence"]


def test_red_flags_and_greetings_are_answered_on_purpose_and_never_stored(tmp_path: Path) -> None:
    alarm, hello = red_flag_reply(), Reply("greeting", "greeting.hello", "Hi!", confidence=0.1)
    check = Reply("check", "check.screen", "First, a quick safety check.", confidence=0.1)
    with Inbox(tmp_path / "inbox.sqlite3") as inbox:
        assert not inbox.consider("after thrusting my legs went numb", alarm, threshold=2.0)
        assert not inbox.consider("hey there", hello, threshold=2.0)
        assert not inbox.consider("check my form", check, threshold=2.0)
        assert inbox.entries() == []


def test_an_answer_marked_unhelpful_is_stored_whatever_its_confidence(tmp_path: Path) -> None:
    text, reply = confident_reply()
    with Inbox(tmp_path / "inbox.sqlite3") as inbox:
        assert inbox.mark_unhelpful(text, reply)
        [entry] = inbox.entries()
    assert (entry.text, entry.intent, entry.topic, entry.confidence, entry.reason) == (
        text, reply.intent, reply.topic, reply.confidence, "unhelpful")


def test_empty_text_is_not_stored_and_long_text_is_cut(tmp_path: Path) -> None:
    off = declined_reply()
    with Inbox(tmp_path / "inbox.sqlite3") as inbox:
        assert not inbox.consider("   \n", off)
        assert inbox.consider("protein " * 1000, off)
        [entry] = inbox.entries()
    assert len(entry.text) == MAX_TEXT


def test_rows_older_than_the_retention_are_deleted_on_write_and_on_open(tmp_path: Path) -> None:
    path, clock = tmp_path / "inbox.sqlite3", [1_000_000.0]
    off = declined_reply()
    with Inbox(path, retention_days=30, now=lambda: clock[0]) as inbox:
        inbox.consider("is creatine worth it for glute growth", off)
        clock[0] += 20 * DAY
        inbox.consider("which pre-workout do you take before leg day", off)
        assert len(rows(path)) == 2
        clock[0] += 15 * DAY  # the first is now 35 days old
        assert [e.text for e in inbox.entries()] == ["which pre-workout do you take before leg day"]
        inbox.consider("should I take fish oil for my joints", off)
        assert [r[0] for r in rows(path)] == ["which pre-workout do you take before leg day",
                                              "should I take fish oil for my joints"]
    clock[0] += 40 * DAY
    with Inbox(path, retention_days=30, now=lambda: clock[0]):
        assert rows(path) == []


def test_purge_deletes_everything_and_counts_it(tmp_path: Path) -> None:
    off = declined_reply()
    with Inbox(tmp_path / "inbox.sqlite3") as inbox:
        for text in ("best shaker bottle brand", "how much whey after leg day", "is bcaa a scam"):
            inbox.consider(text, off)
        assert inbox.purge() == 3
        assert inbox.entries() == []
        assert inbox.purge() == 0


def test_the_file_is_private_and_its_new_folder_too(tmp_path: Path) -> None:
    path = tmp_path / "state" / "review" / "inbox.sqlite3"
    with Inbox(path) as inbox:
        inbox.consider(OFF_TOPIC, declined_reply())
        files = [path, *path.parent.glob("inbox.sqlite3-*")]
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), [oct(f.stat().st_mode) for f in files]
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_existing_file_with_loose_permissions_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    Inbox(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", [b"leg day notes, definitely not a database\n" * 20,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_file_that_is_not_an_inbox_raises_one_clear_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "inbox.sqlite3"
    path.write_bytes(content)
    with pytest.raises(InboxError) as caught:
        Inbox(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    assert isinstance(caught.value, OSError)
    assert path.read_bytes() == content  # left as it was


def test_another_sqlite_database_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE chats (id INTEGER PRIMARY KEY, data TEXT)")
    with pytest.raises(InboxError, match="other tables"):
        Inbox(path)
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["chats"]


def test_a_folder_at_the_path_raises_inbox_error(tmp_path: Path) -> None:
    with pytest.raises(InboxError, match=str(tmp_path)):
        Inbox(tmp_path)


def test_a_failed_write_is_logged_not_raised_and_a_failed_read_raises_inbox_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "inbox.sqlite3"
    with Inbox(path) as inbox:
        with sqlite3.connect(path) as db:
            db.execute("DROP TABLE questions")
        with caplog.at_level(logging.WARNING, logger="bot.review"):
            assert inbox.consider(OFF_TOPIC, declined_reply()) is False
        with pytest.raises(InboxError, match="cannot read"):
            inbox.entries()
    assert "could not store" in caplog.text


def _write_many(path: str, worker: int) -> None:
    reply = Reply("out_of_scope", "out_of_scope.supplements", "", confidence=1.0)
    with Inbox(Path(path)) as inbox:
        for n in range(25):
            assert inbox.consider(f"worker {worker} asks about creatine dose {n}", reply)


def test_processes_can_write_at_the_same_time(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite3"
    Inbox(path).close()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_many, args=(str(path), w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with Inbox(path) as inbox:
        assert len(inbox.entries()) == 100
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def entry(text: str, topic: str = "out_of_scope.supplements", reason: str = "out_of_scope", at: float = 0.0) -> Entry:
    return Entry(text, topic.split(".")[0], topic, 1.0, reason, at)


def test_grouping_puts_near_duplicates_together_largest_first() -> None:
    entries = [
        entry("can I hip thrust while pregnant?", "out_of_scope.pregnancy"),
        entry("best protein powder for bulking?"),
        entry("What's the best protein powder to bulk?"),
        entry("is it safe to do hip thrusts when pregnant", "out_of_scope.pregnancy"),
        entry("whats the best protein powder for bulking"),
        entry("Best protein powder for bulking", reason="unhelpful"),
        entry("my neck hurts on hip thrusts", "out_of_scope.other_pain_site"),
        entry("my knees hurt on hip thrusts", "out_of_scope.other_pain_site"),
    ]
    groups = group(entries)
    assert [g.count for g in groups] == [4, 2, 1, 1]
    protein, pregnant = groups[0], groups[1]
    assert protein.text == "best protein powder for bulking?"
    assert protein.topic == "out_of_scope.supplements" and protein.intent == "out_of_scope"
    assert protein.reasons == {"out_of_scope": 3, "unhelpful": 1}
    assert set(protein.wordings) == {"What's the best protein powder to bulk?",
                                     "whats the best protein powder for bulking"}
    assert {e.text for e in pregnant.entries} == {"can I hip thrust while pregnant?",
                                                  "is it safe to do hip thrusts when pregnant"}
    assert {g.text for g in groups[2:]} == {"my neck hurts on hip thrusts", "my knees hurt on hip thrusts"}
    assert group([]) == []


def test_wordings_sharing_only_half_their_words_stay_apart() -> None:
    groups = group([entry("my hamstrings cramp during hip thrusts"), entry("hamstring curls before hip thrusts?")])
    assert [g.count for g in groups] == [1, 1]


def test_a_group_holds_wordings_like_all_of_its_members_not_a_chain() -> None:
    asked = ["creatine before workout"] * 3 + ["creatine or whey after workout?"] * 2 + ["whey after workout"]
    groups = group([entry(text) for text in asked])
    assert [(g.text, g.count) for g in groups] == [("creatine before workout", 5), ("whey after workout", 1)]


def test_a_group_takes_the_topic_hipbot_chose_most_often() -> None:
    entries = [entry("foam roller before hip thrusts?", "out_of_scope.other_equipment"),
               entry("foam roller before hip thrust", "fix.general"),
               entry("foam rolling before hip thrusts??", "out_of_scope.other_equipment")]
    [only] = group(entries)
    assert (only.intent, only.topic, only.count) == ("out_of_scope", "out_of_scope.other_equipment", 3)


def test_render_lists_groups_largest_first_with_at_most_three_other_wordings() -> None:
    wordings = ["does creatine help glutes", "does creatine help the glutes?", "Does creatine help my glutes",
                "creatine help glutes??", "does creatine help glutes grow"]
    entries = [entry(w) for w in wordings] + [entry("can I hip thrust while pregnant", "out_of_scope.pregnancy"),
                                             entry("is it ok to hip thrust when pregnant", "out_of_scope.pregnancy"),
                                             entry("\x1b[2Jrate my\nform", "out_of_scope")]
    text = render(group(entries))
    lines = text.splitlines()
    assert lines[0] == "8 questions in 3 groups, most asked first."
    assert any(line.strip().endswith("2Jrate my form") for line in lines)  # escape blanked, newline folded
    assert text.index("5x  out_of_scope.supplements") < text.index("2x  out_of_scope.pregnancy")
    creatine = lines[lines.index("   5x  out_of_scope.supplements  (out_of_scope 5)"):]
    creatine = creatine[:creatine.index("")]
    assert creatine[1].strip() == "does creatine help glutes"
    others = [line.strip() for line in creatine[2:]]
    assert len(others) == 4 and others[-1] == "~ ... and 1 more"
    assert all(o.startswith("~ ") for o in others)
    assert "\x1b" not in text
    assert render([]) == "The review inbox is empty."


def test_exported_stubs_load_in_the_evaluator_and_run_with_hipbot_eval(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    inbox_path, stubs = tmp_path / "inbox.sqlite3", tmp_path / "stubs.yaml"
    vague_text, vague = vague_reply()
    with Inbox(inbox_path) as inbox:
        for text in ("best protein powder for bulking?", "whats the best protein powder for bulking",
                     "how many sets per week"):
            inbox.consider(text, declined_reply())
        inbox.consider(vague_text, vague)
        groups = group(inbox.entries())
    assert export_stubs(groups, stubs) == len(groups) == 3
    raw = stubs.read_text(encoding="utf-8")
    assert raw.startswith("#") and "NOT labels" in raw
    data = yaml.safe_load(raw)
    assert all(item["needs_label"] is True for item in data["items"])
    cases = load_cases(stubs)
    assert all(c.evidence == () for c in cases)  # nothing to be graded on until someone labels it
    assert [(c.text, c.intent, c.topic) for c in cases] == [(g.text, g.intent, g.topic) for g in groups]
    assert len({c.id for c in cases}) == len(cases)
    assert hipbot(["eval", str(stubs)]) == 0
    assert "items: 3" in capsys.readouterr().out


def test_an_empty_export_is_still_a_valid_set(tmp_path: Path) -> None:
    stubs = tmp_path / "stubs.yaml"
    assert export_stubs([], stubs) == 0
    assert load_cases(stubs) == []


def test_purged_and_expired_questions_are_overwritten_on_disk(tmp_path: Path) -> None:
    """Deleted rows are not left in free pages or the write-ahead log, whatever SQLite's build default."""
    path, now = tmp_path / "inbox.sqlite3", [1_000_000.0]
    off = declined_reply()
    with Inbox(path, now=lambda: now[0]) as inbox:
        inbox.consider("zanzibar protein shaker question", off)
        now[0] += 31 * DAY
        inbox.consider("another protein question", off)  # the first is past the retention: deleted
        assert inbox.purge() == 1
        on_disk = b"".join(f.read_bytes() for f in (path, *path.parent.glob("inbox.sqlite3-*")))
        assert b"zanzibar" not in on_disk and b"another protein" not in on_disk
    assert b"protein" not in path.read_bytes()


def test_the_export_is_private(tmp_path: Path) -> None:
    stubs = tmp_path / "new.yaml"
    stubs.write_text("old")
    stubs.chmod(0o644)
    export_stubs(group([Entry("is whey ok", "out_of_scope", "out_of_scope", 0.2, "out_of_scope", 0.0)]), stubs)
    assert stat.S_IMODE(stubs.stat().st_mode) == 0o600 and "is whey ok" in stubs.read_text()
