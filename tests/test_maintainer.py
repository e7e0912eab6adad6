"""The maintainer's loop: `/why`, `hipbot ask --explain`, the opt-in review inbox and `hipbot review`."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from _drivers import chat
from bot import answer, default_engine
from bot.cli import main as cli_main

RED_FLAG = "my leg goes numb during hip thrusts"
OFF_TOPIC = "how many sets and reps should I do?"
CAUSE = "why does my lower back hurt on hip thrusts?"
FOLLOW_UP = "ok how do I fix that"


def ask_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert cli_main(["ask", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_ask_explain_on_a_red_flag_an_out_of_scope_and_a_plain_question(capsys: pytest.CaptureFixture[str]) -> None:
    flag = ask_json(capsys, "--explain", RED_FLAG)
    assert flag["intent"] == "red_flag" and flag["why"]["red_flags"] == [flag["topic"]]
    assert flag["why"]["sticky"] is False and flag["why"]["not_covered"] is None
    declined = ask_json(capsys, "--explain", OFF_TOPIC)
    assert declined["intent"] == "out_of_scope" and declined["why"]["not_covered"] == declined["topic"].split(".")[1]
    plain = ask_json(capsys, "--explain", CAUSE)
    assert {"intent", "topic", "text", "sources", "confidence", "suggestions"} <= set(plain)
    sections = plain["why"]["sections"]
    assert len(sections) == 3 and sections == sorted(sections, key=lambda s: -s["score"])
    assert plain["why"]["red_flags"] == [] and plain["why"]["followup"] is False


def test_explain_a_follow_up_and_a_sticky_red_flag() -> None:
    engine = default_engine()
    first = answer(CAUSE)
    assert engine.explain(FOLLOW_UP, first.state).followup
    flagged = answer(RED_FLAG).state
    why = engine.explain(FOLLOW_UP, flagged)
    assert why.intent == "red_flag" and why.sticky and why.red_flags == ()


def test_why_in_the_repl() -> None:
    text = chat(f"/why\n{CAUSE}\n/why\n{RED_FLAG}\n/why\n{OFF_TOPIC}\n/why\n")
    assert "ask something first" in text
    assert "intent: cause   topic: cause.general" in text
    assert "red-flag signs in this message: red_flag." in text
    assert "not-covered rule: programming" in text
    assert text.count("closest sections: ") == 3


def test_nothing_is_stored_when_the_inbox_is_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("HIPBOT_REVIEW_LOG", raising=False)
    assert cli_main(["ask", OFF_TOPIC]) == 0
    assert list(tmp_path.rglob("*")) == []


def test_the_inbox_keeps_unanswered_questions_without_identifiers(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "review.sqlite3"
    for text in (OFF_TOPIC, "how many sets n reps for hip thrusts", CAUSE, RED_FLAG):
        assert cli_main(["ask", "--review-log", str(log), text]) == 0
    lines = "\n".join(json.dumps({"text": "what protein powder should I take", "session": "user-42"}) for _ in range(2))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(lines + "\n"))
        assert cli_main(["ask", "--jsonl", "--review-log", str(log)]) == 0
    with sqlite3.connect(log) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(questions)")]
        rows = db.execute("SELECT text, intent FROM questions").fetchall()
    db.close()
    assert columns == ["text", "intent", "topic", "confidence", "reason", "stored_at"]  # no chat, user or session
    assert [intent for _, intent in rows] == ["out_of_scope"] * 4
    assert CAUSE not in {t for t, _ in rows} and RED_FLAG not in {t for t, _ in rows}
    assert "user-42" not in log.read_bytes().decode("utf-8", "replace")


def test_review_groups_exports_and_the_export_runs_in_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, stubs = tmp_path / "review.sqlite3", tmp_path / "stubs.yaml"
    for text in (OFF_TOPIC, "how many sets n reps for hip thrusts", "what protein powder should I take"):
        cli_main(["ask", "--review-log", str(log), text])
    capsys.readouterr()
    assert cli_main(["review", "--review-log", str(log), "--export", str(stubs)]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("3 questions in 2 groups") and listing.index("2x") < listing.index("1x")
    items = yaml.safe_load(stubs.read_text())["items"]
    assert len(items) == 2 and {"id", "text", "intent", "topic"} <= set(items[0])
    assert cli_main(["eval", str(stubs)]) == 0
    assert cli_main(["review", "--review-log", str(log), "--purge"]) == 0
    assert "Removed 3 questions" in capsys.readouterr().out
    cli_main(["review", "--review-log", str(log)])
    assert "empty" in capsys.readouterr().out


def test_an_unusable_inbox_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "review.sqlite3"
    garbage.write_text("not a database")
    assert cli_main(["ask", "--review-log", str(garbage), CAUSE]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hipbot: error: ") and err.count("\n") == 1 and str(garbage) in err


def test_eval_refuses_an_unknown_topic_and_reports_per_topic_figures(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    labelled = tmp_path / "set.yaml"
    labelled.write_text(yaml.safe_dump({"items": [
        {"id": "a", "text": CAUSE, "intent": "cause", "topic": "cause.general"},
        {"id": "b", "text": OFF_TOPIC, "intent": "out_of_scope", "topic": "out_of_scope.programming"},
    ]}))
    report = tmp_path / "report.json"
    assert cli_main(["eval", str(labelled), "--report", str(report)]) == 0
    per_topic = json.loads(report.read_text())["per_topic"]
    assert per_topic["cause.general"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    typo = tmp_path / "typo.yaml"
    typo_item = {"id": "x1", "text": CAUSE, "intent": "cause", "topic": "cause.genral"}
    typo.write_text(yaml.safe_dump({"items": [typo_item]}))
    capsys.readouterr()
    assert cli_main(["eval", str(typo)]) == 2
    err = capsys.readouterr().err
    assert "x1" in err and "cause.genral" in err and err.count("\n") == 1
