"""The `hipbot` command: the machine-readable contract, usage errors, one-line errors for every bad path,
file or encoding, and no file left by a command that fails or has nothing to store.

In this process through `bot.cli.main`; a subprocess only where a separate process is the point (replies
flushed while stdin stays open, a pipe closed by its reader, what a cold start imports, logging as the
command configures it)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot import default_engine
from bot.cli import main
from bot.telegram import ChatStore

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"intent", "topic", "text", "sources", "confidence", "suggestions"}
TOKEN = "123456:" + "C" * 35


class Result:
    def __init__(self, status: int, out: str, err: str) -> None:
        self.status, self.out, self.err = status, out, err

    @property
    def one_line_error(self) -> bool:
        return (self.status == 2 and self.err.startswith("hipbot: error: ") and self.err.count("\n") == 1
                and "Traceback" not in self.err)


class Piped(io.TextIOWrapper):
    """stdin as a pipe gives it: bytes underneath, not a terminal."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")


class Terminal(io.StringIO):
    """stdin as an interactive terminal: nothing piped."""

    def isatty(self) -> bool:
        return True


Run = Callable[..., Result]


@pytest.fixture
def hipbot(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `hipbot ARGS` in this process with `stdin` (text or bytes piped, or a Terminal); usage errors
    (argparse's SystemExit) become their status like in a shell."""

    def run(*args: str, stdin: str | bytes | io.TextIOBase | None = None) -> Result:
        capsys.readouterr()
        if isinstance(stdin, str):
            stdin = stdin.encode("utf-8")
        monkeypatch.setattr("sys.stdin", Piped(stdin) if isinstance(stdin, bytes) else stdin or Terminal())
        try:
            status = main(list(args))
        except SystemExit as exit_:
            status = int(exit_.code or 0)
        out, err = capsys.readouterr()
        return Result(status, out, err)

    return run


def subprocess_hipbot(*args: str, stdin: str | None = None, env: dict[str, str] | None = None
                      ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=120)


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- ask -------------------------------------------------------------------------------------------

def test_ask_prints_the_reply(hipbot: Run) -> None:
    result = hipbot("ask", "how", "should", "I", "set", "my", "feet?")
    assert result.status == 0, result.err
    assert "perpendicular" in result.out


def test_ask_json_is_one_object_with_the_contract_keys(hipbot: Run) -> None:
    result = hipbot("ask", "--json", "why does my lower back hurt on hip thrusts?")
    reply = json.loads(result.out)
    assert set(reply) == KEYS
    assert reply["intent"] == "cause"
    assert all(set(s) == {"id", "heading", "score"} for s in reply["sources"])
    assert 0.0 <= reply["confidence"] <= 1.0
    assert reply["suggestions"] and all(isinstance(s, str) for s in reply["suggestions"])


def test_ask_reads_a_piped_question_from_stdin(hipbot: Run) -> None:
    piped = hipbot("ask", "--json", stdin="how should I set my feet?\n")
    given = hipbot("ask", "--json", "how should I set my feet?")
    assert piped.status == 0 and json.loads(piped.out) == json.loads(given.out)
    assert json.loads(piped.out)["topic"] == "fix.foot_placement"


def test_ask_prefers_its_arguments_to_stdin(hipbot: Run) -> None:
    result = hipbot("ask", "--json", "where should the pad sit?", stdin="hello\n")
    assert json.loads(result.out)["topic"] == "fix.pad_position"


@pytest.mark.parametrize("stdin", [Terminal(), "", "  \n\n"], ids=["terminal", "empty", "blank"])
def test_ask_without_a_question_is_a_usage_error(hipbot: Run, stdin: str | Terminal) -> None:
    result = hipbot("ask", stdin=stdin)
    assert result.status == 2 and result.out == ""
    assert result.err.startswith("usage: hipbot ask") and "hipbot ask: error:" in result.err


def test_ask_without_any_stdin_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", None)  # closed by the caller
    with pytest.raises(SystemExit) as exit_:
        main(["ask"])
    assert exit_.value.code == 2


def test_ask_with_a_blank_argument_and_a_terminal_is_a_usage_error(hipbot: Run) -> None:
    result = hipbot("ask", "  ")
    assert result.status == 2 and "hipbot ask: error:" in result.err


def test_a_question_on_stdin_that_is_not_utf8_is_one_line(hipbot: Run) -> None:
    result = hipbot("ask", stdin=b"caf\xe9 hip thrust?\n")
    assert result.one_line_error and "stdin: not UTF-8 text" in result.err


def test_a_question_argument_that_is_not_utf8_is_one_line(hipbot: Run) -> None:
    undecodable = b"my back hurts caf\xe9".decode("utf-8", "surrogateescape")  # as argv carries such bytes
    result = hipbot("ask", undecodable)
    assert result.one_line_error and "not UTF-8 text" in result.err


def test_chat_reads_piped_lines_that_are_not_utf8_without_a_traceback(hipbot: Run) -> None:
    result = hipbot("chat", stdin=b"my back hurts caf\xe9 at the top, why?\n/quit\n")
    assert result.status == 0 and "Traceback" not in result.err
    assert "Bye" in result.out and result.out.count("\n") > 5


def test_jsonl_with_text_arguments_is_a_usage_error(hipbot: Run) -> None:
    result = hipbot("ask", "--jsonl", "hello", stdin='{"text": "hi"}\n')
    assert result.status == 2 and result.out == "" and "reads questions from stdin" in result.err


# --- ask --picture ---------------------------------------------------------------------------------

def test_ask_writes_the_picture(hipbot: Run, tmp_path: Path) -> None:
    target = tmp_path / "setup.png"
    result = hipbot("ask", "--picture", str(target), "/diagram")
    assert result.status == 0 and target.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("where", ["/nonexistent/dir/x.png", "{tmp}", "{tmp}/a-file/x.png"],
                         ids=["missing-folder", "a-folder", "under-a-file"])
def test_a_bad_picture_path_is_one_line_and_writes_nothing(hipbot: Run, tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("x")
    before = tree(tmp_path)
    result = hipbot("ask", "--picture", where.format(tmp=tmp_path), "/diagram")
    assert result.one_line_error and result.out == ""
    assert where.format(tmp=tmp_path) in result.err
    assert tree(tmp_path) == before


# --- ask --jsonl -----------------------------------------------------------------------------------

def test_jsonl_sessions_keep_their_own_state(hipbot: Run) -> None:
    lines = [
        {"text": "could the bench height be why my back hurts?", "session": "a"},
        {"text": "is arching at the top the reason my back hurts?", "session": "b"},
        {"text": "how do I fix that?", "session": "a"},
        {"text": "how do I fix that?", "session": "b"},
        {"text": "how do I fix that?"},
    ]
    result = hipbot("ask", "--jsonl", stdin="".join(json.dumps(x) + "\n" for x in lines))
    replies = [json.loads(line) for line in result.out.splitlines()]
    assert [r["topic"] for r in replies] == [
        "cause.bench_height", "cause.lumbar_extension", "fix.bench_height", "fix.range_of_motion", "fix.general",
    ]
    assert [r.get("session") for r in replies] == ["a", "b", "a", "b", None]
    assert result.status == 0


def test_jsonl_bad_lines_get_error_objects_and_the_rest_is_answered(hipbot: Run) -> None:
    stream = "\n".join([
        '{"text": "hi"}', "not json", '{"session": "x"}', "", '{"text": 5}', '["text"]',
        json.dumps({"text": "x" * 2_000_000}), '{"text": "how do I brace?"}',
    ]) + "\n"
    result = hipbot("ask", "--jsonl", stdin=stream)
    out = [json.loads(line) for line in result.out.splitlines()]
    assert len(out) == 8
    assert out[0]["intent"] == "greeting" and out[7]["intent"] == "fix"
    assert [o.get("line") for o in out[1:7]] == [2, 3, 4, 5, 6, 7]
    assert all("error" in o for o in out[1:7])
    assert result.status == 1


def test_jsonl_a_line_that_is_not_utf8_is_an_error_object(hipbot: Run) -> None:
    result = hipbot("ask", "--jsonl", stdin=b'{"text": "caf\xe9"}\n{"text": "how do I brace?"}\n')
    out = [json.loads(line) for line in result.out.splitlines()]
    assert out[0] == {"error": "not UTF-8 text", "line": 1}
    assert out[1]["intent"] == "fix" and result.status == 1
    escaped = hipbot("ask", "--jsonl", stdin='{"text": "my back hurts caf\\udce9"}\n')
    assert json.loads(escaped.out) == {"error": "\"text\" is not valid Unicode (a lone surrogate)", "line": 1}


def test_jsonl_drives_a_guided_check(hipbot: Run) -> None:
    texts = ["/check", "none of these", "at the top when I lock out", "stop"]
    result = hipbot("ask", "--jsonl", stdin="".join(json.dumps({"text": t, "session": "c"}) + "\n" for t in texts))
    replies = [json.loads(line) for line in result.out.splitlines()]
    assert [r["intent"] for r in replies[:3]] == ["check", "check", "check"]
    assert replies[0]["topic"] == "check.screen" and replies[1]["topic"].startswith("check.")
    assert replies[2]["topic"] != replies[1]["topic"]
    assert "check stopped" in replies[3]["text"]


def test_jsonl_bad_sessions_are_line_errors_and_numbers_differ_from_strings(hipbot: Run) -> None:
    lines = ['{"text": "hi", "session": "\\ud800"}', '{"text": "hi", "session": true}',
             '{"text": "could the bench height be why my back hurts?", "session": 1}',
             '{"text": "how do I fix that?", "session": "1"}', '{"text": "how do I fix that?", "session": 1}']
    result = hipbot("ask", "--jsonl", stdin="\n".join(lines) + "\n")
    out = [json.loads(line) for line in result.out.splitlines()]
    assert [("error" in o) for o in out] == [True, True, False, False, False]
    assert out[3]["topic"] == "fix.general" and out[4]["topic"] == "fix.bench_height"


def test_jsonl_forgets_the_least_recently_used_session_beyond_its_limit(hipbot: Run) -> None:
    lines = [{"text": "could the pad on my belly be the problem?", "session": "a"},
             {"text": "hi", "session": "b"},
             {"text": "hi", "session": "c"},  # with room for two, "a" is forgotten here
             {"text": "ok how do I fix that?", "session": "a"}]
    stream = "\n".join(json.dumps(line) for line in lines) + "\n"
    forgetting = hipbot("ask", "--jsonl", "--max-sessions", "2", stdin=stream)
    replies = [json.loads(line) for line in forgetting.out.splitlines()]
    assert replies[0]["topic"] == "cause.pad_position"
    assert replies[3]["topic"] != "fix.pad_position"  # no memory of "a" any more
    kept = hipbot("ask", "--jsonl", "--max-sessions", "3", stdin=stream)
    assert json.loads(kept.out.splitlines()[3])["topic"] == "fix.pad_position"


def test_jsonl_refuses_session_ids_over_200_characters(hipbot: Run) -> None:
    result = hipbot("ask", "--jsonl", stdin=json.dumps({"text": "hi", "session": "x" * 201}) + "\n")
    assert "longer than 200" in json.loads(result.out)["error"] and result.status == 1


def test_jsonl_replies_are_flushed_line_by_line() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "ask", "--jsonl"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, cwd=ROOT,
    )
    try:
        assert process.stdin and process.stdout
        process.stdin.write('{"text": "my foot tingles", "session": 1}\n')
        process.stdin.flush()
        first = json.loads(process.stdout.readline())  # answered before stdin is closed
        assert first["intent"] == "red_flag"
        process.stdin.write('{"text": "could it be my bench?", "session": 1}\n')
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["intent"] == "red_flag"
    finally:
        process.kill()
        process.wait()


def test_a_closed_pipe_ends_quietly() -> None:
    process = subprocess.Popen(f"{sys.executable} -m bot.cli ask --jsonl | head -1", shell=True, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    out, err = process.communicate('{"text": "hi"}\n' * 200, timeout=120)
    assert len(out.splitlines()) == 1 and "Traceback" not in err


# --- data errors -----------------------------------------------------------------------------------

@pytest.fixture
def knowledge(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set HIPBOT_CORPUS / HIPBOT_INTENTS through the returned patch: the default engine reads them afresh
    (and the engine of the checkout's files is back afterwards, from its cache)."""
    default_engine.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    default_engine.cache_clear()


@pytest.mark.parametrize(("content", "message"), [
    ("version: 1\nversion: 2\n", "intents.yaml: line 2: duplicate key 'version'"),
    ("- just\n- a list\n", "intents.yaml: top level: expected a mapping, got list"),
    ("version: [1\n", "intents.yaml: line 2: invalid YAML"),
])
def test_malformed_intents_file_is_one_line_and_status_2(hipbot: Run, knowledge: pytest.MonkeyPatch, tmp_path: Path,
                                                         content: str, message: str) -> None:
    bad = tmp_path / "intents.yaml"
    bad.write_text(content)
    knowledge.setenv("HIPBOT_INTENTS", str(bad))
    result = hipbot("ask", "hi")
    assert result.one_line_error and message in result.err


def test_missing_corpus_is_one_line_and_status_2(hipbot: Run, knowledge: pytest.MonkeyPatch, tmp_path: Path) -> None:
    knowledge.setenv("HIPBOT_CORPUS", str(tmp_path / "nowhere"))
    result = hipbot("ask", "hi")
    assert result.one_line_error and "corpus folder not found" in result.err


def test_jsonl_with_an_unusable_corpus_is_one_line_and_exit_2_before_reading(
        hipbot: Run, knowledge: pytest.MonkeyPatch, tmp_path: Path) -> None:
    knowledge.setenv("HIPBOT_CORPUS", str(tmp_path / "missing"))
    result = hipbot("ask", "--jsonl", stdin='{"text": "hi"}\n')
    assert result.one_line_error and result.out == "" and "missing" in result.err


def test_ask_does_not_import_scikit_learn_when_the_index_is_cached() -> None:
    subprocess_hipbot("ask", "warm the cache")
    code = ("import sys; from bot.cli import main; main(['ask', 'hi']); "
            "print('sklearn' in sys.modules, 'telegram' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.strip().endswith("False False")


# --- eval ------------------------------------------------------------------------------------------

def test_eval_prints_the_scores(hipbot: Run, tmp_path: Path) -> None:
    labelled = tmp_path / "set.yaml"
    labelled.write_text(
        "version: 1\nitems:\n"
        "  - {id: a, text: 'my toes go numb', intent: red_flag, topic: red_flag.numbness, evidence: [numbness]}\n"
        "  - {id: b, text: 'hello', intent: greeting, topic: greeting, evidence: []}\n"
        "  - {id: c, text: 'hello', intent: cause, topic: cause.general, evidence: []}\n"
        "conversations:\n"
        "  - id: k\n    turns:\n"
        "      - {text: 'is my pad too high the reason it hurts?', intent: cause, topic: cause.pad_position,"
        " evidence: [hip crease]}\n"
        "      - {text: 'how do I fix that', intent: fix, topic: fix.pad_position, evidence: [foam pad]}\n"
    )
    result = hipbot("eval", str(labelled))
    assert result.status == 0, result.err
    assert "accuracy: 80.0%  (4/5)" in result.out
    assert "red-flag recall: 100.0%" in result.out
    assert "c [intent] expected cause.general, got greeting.hello" in result.out


NO_RED_FLAGS = ("version: 1\nitems:\n"
                "  - {id: a, text: 'where should the pad sit?', intent: fix, topic: fix.pad_position}\n"
                "  - {id: b, text: 'how do I reverse a linked list in python?', intent: out_of_scope}\n")
ONLY_RED_FLAGS = ("items:\n"
                  "  - {id: a, text: 'my toes go numb on thrusts', intent: red_flag, evidence: [numbness]}\n")


def test_a_gate_on_a_category_without_items_is_na_and_passes(hipbot: Run, tmp_path: Path) -> None:
    labelled, report = tmp_path / "inbox-export.yaml", tmp_path / "report.json"
    labelled.write_text(NO_RED_FLAGS)
    result = hipbot("eval", str(labelled), "--min-accuracy", "0.9", "--min-redflag-recall", "1.0",
                    "--report", str(report))
    assert result.status == 0, result.err
    assert "red-flag recall: n/a" in result.out and "false escalation: 0.0%" in result.out
    assert result.err == ("hipbot: red-flag recall is n/a (no items of that kind): "
                          "the gate at 100.0% does not apply\n")
    data = json.loads(report.read_text())
    assert data["red_flag_recall"] is None and data["accuracy"] == 1.0


def test_false_escalation_is_na_for_a_set_of_red_flags_only(hipbot: Run, tmp_path: Path) -> None:
    labelled = tmp_path / "flags.yaml"
    labelled.write_text(ONLY_RED_FLAGS)
    result = hipbot("eval", str(labelled), "--min-redflag-recall", "1.0")
    assert result.status == 0 and "false escalation: n/a" in result.out and "red-flag recall: 100.0%" in result.out


def test_eval_gates_and_report_file(hipbot: Run, tmp_path: Path) -> None:
    labelled = tmp_path / "set.yaml"
    labelled.write_text(
        "version: 1\nitems:\n"
        "  - {id: a, text: 'my toes go numb on thrusts', intent: red_flag, topic: red_flag.numbness,"
        " evidence: [numbness]}\n"
        "  - {id: b, text: 'where should the pad sit?', intent: cause, topic: cause.pad_position}\n"
    )
    out = tmp_path / "report.json"
    passed = hipbot("eval", str(labelled), "--report", str(out), "--min-redflag-recall", "1.0")
    assert passed.status == 0, passed.err
    data = json.loads(out.read_text())
    assert data["items"] == 2 and data["red_flag_recall"] == 1.0
    assert [o["id"] for o in data["outcomes"]] == ["a", "b"] and data["calibration"]
    failed = hipbot("eval", str(labelled), "--min-accuracy", "0.9")
    assert failed.status == 1 and failed.err == "hipbot: accuracy 50.0% is below 90.0%\n"


@pytest.mark.parametrize("floor", ["1.5", "-0.1", "high"])
def test_a_gate_outside_0_to_1_is_a_usage_error(hipbot: Run, floor: str) -> None:
    result = hipbot("eval", "examples/sample-eval.yaml", "--min-accuracy", floor)
    assert result.status == 2 and "expected a number from 0 to 1" in result.err


@pytest.mark.slow(seconds=15)
def test_eval_compare_scores_each_system_and_honours_report_and_gates(hipbot: Run, tmp_path: Path) -> None:
    labelled, report = tmp_path / "set.yaml", tmp_path / "report.json"
    labelled.write_text(
        "items:\n"
        "  - {id: a, text: 'my toes go numb on thrusts', intent: red_flag, evidence: [numbness]}\n"
        "  - {id: b, text: 'my booty never fires, only my low back. why', intent: cause, evidence: [erector spinae]}\n"
    )
    result = hipbot("eval", str(labelled), "--compare", "--report", str(report), "--min-accuracy", "1.0")
    assert result.status == 0, result.err
    rows = {line[:34].strip(): line[34:].split() for line in result.out.splitlines()[1:]}
    assert set(rows) == {"full bot", "bare TF-IDF top chunk", "rapidfuzz on example phrases",
                         "full bot without slang lexicon", "TF-IDF only (no encoder)", "encoder only for topics"}
    assert rows["full bot"] == ["100.0%", "100.0%", "0.0%"]
    assert json.loads(report.read_text())["accuracy"] == 1.0  # the full bot's scores

    labelled.write_text(NO_RED_FLAGS + "  - {id: c, text: 'hello', intent: cause, topic: cause.general}\n")
    gated = hipbot("eval", str(labelled), "--compare", "--min-accuracy", "0.9", "--min-redflag-recall", "1.0")
    rows = {line[:34].strip(): line[34:].split() for line in gated.out.splitlines()[1:]}
    assert rows["full bot"][1] == "n/a"
    assert gated.status == 1 and "hipbot: accuracy 66.7% is below 90.0%" in gated.err
    assert "red-flag recall is n/a" in gated.err


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read eval set (No such file or directory)"),
    ("folder", "cannot read eval set (Is a directory)"),
    (b"items:\n  - {id: a, text: 'caf\xe9', intent: cause}\n", "not UTF-8 text (byte 30)"),
    (b"items: [\n", "line 2: invalid YAML"),
    (b"items:\n  - {id: a, text: 'x', intent: cause\n", "line 3: invalid YAML"),
    (b"items: 5\n", "items: expected a list, got int"),
    (b"conversations: [1]\n", "conversations[0]: expected a mapping"),
    (b"conversations: [{id: k, turns: [5]}]\n", "conversations[0].turns[0]: needs text"),
    (b"- a list\n", "top level: expected a mapping"),
    (b"items:\n  - {id: a, text: 'x', intent: cause, topic: cause.nope}\n", "a: unknown topic 'cause.nope'"),
], ids=["missing", "folder", "not-utf8", "yaml-unclosed", "yaml-syntax", "items-not-list", "conversation-not-map",
        "turn-not-map", "a-list", "unknown-topic"])
def test_an_unusable_eval_set_is_one_line_and_status_2(hipbot: Run, tmp_path: Path, content: bytes | str | None,
                                                       message: str) -> None:
    path = tmp_path / "set.yaml"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    result = hipbot("eval", str(path), "--report", str(tmp_path / "report.json"))
    assert result.one_line_error and result.out == ""
    assert result.err.startswith(f"hipbot: error: {path}: ") and message in result.err
    assert not (tmp_path / "report.json").exists()


@pytest.mark.parametrize("where", ["/nonexistent/dir/r.json", "{tmp}"], ids=["missing-folder", "a-folder"])
def test_a_bad_report_path_is_one_line_before_any_scoring(hipbot: Run, tmp_path: Path, where: str) -> None:
    result = hipbot("eval", "examples/sample-eval.yaml", "--report", where.format(tmp=tmp_path))
    assert result.one_line_error and result.out == ""


# --- review ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [[], ["--purge"], ["--export", "{tmp}/new.yaml"]], ids=["list", "purge", "export"])
def test_review_with_the_inbox_never_turned_on_creates_nothing(hipbot: Run, tmp_path: Path, args: list[str]) -> None:
    state = Path(os.environ["XDG_STATE_HOME"])
    result = hipbot("review", *[a.format(tmp=tmp_path) for a in args])
    assert result.status == 0, result.err
    assert "review inbox" in result.out
    assert not state.exists() and tree(tmp_path) == []


def test_review_export_of_an_empty_inbox_writes_no_file(hipbot: Run, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox.sqlite3"
    assert hipbot("ask", "--json", "--review-log", str(inbox), "where should the pad sit?").status == 0
    result = hipbot("review", "--review-log", str(inbox), "--export", str(tmp_path / "new.yaml"))
    assert result.status == 0 and "Nothing to export" in result.out
    assert not (tmp_path / "new.yaml").exists()


def test_a_bad_export_path_is_one_line(hipbot: Run, tmp_path: Path) -> None:
    result = hipbot("review", "--export", "/nonexistent/dir/new.yaml")
    assert result.one_line_error and "/nonexistent/dir" in result.err


# --- telegram: a failed start leaves nothing ---------------------------------------------------------

def test_a_start_without_a_token_creates_nothing(hipbot: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = Path(os.environ["XDG_STATE_HOME"])
    result = hipbot("telegram", "--review-log", str(tmp_path / "logs" / "review.sqlite3"))
    assert result.one_line_error and "TELEGRAM_BOT_TOKEN is not set" in result.err
    assert not state.exists() and tree(tmp_path) == []


def test_a_start_that_cannot_reach_the_bot_api_removes_what_it_created(hipbot: Run, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setattr("bot.telegram._app.START_UP_RETRIES", 0)
    kept = tmp_path / "kept"
    kept.mkdir()
    result = hipbot("telegram", "--base-url", "http://127.0.0.1:9/bot",
                    "--review-log", str(tmp_path / "logs" / "review.sqlite3"))
    assert result.status == 1 and "cannot reach the Bot API" in result.err
    result = hipbot("telegram", "--base-url", "http://127.0.0.1:9/bot", "--persistence", str(kept / "store.sqlite3"))
    assert result.status == 1
    assert not Path(os.environ["XDG_STATE_HOME"]).exists()  # the default store and its folders
    assert tree(tmp_path) == ["kept"]  # a folder that was there is kept, empty


def test_a_failed_start_keeps_a_store_that_was_there(hipbot: Run, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setattr("bot.telegram._app.START_UP_RETRIES", 0)
    store = tmp_path / "store.sqlite3"
    args = ("telegram", "--base-url", "http://127.0.0.1:9/bot", "--persistence", str(store))
    assert hipbot(*args).status == 1 and not store.exists()
    async def one_chat() -> None:
        chats = ChatStore(store)
        await chats.update_chat_data(7, {"x": 1})
        await chats.flush()

    asyncio.run(one_chat())
    assert hipbot(*args).status == 1
    assert store.is_file() and tree(tmp_path) == ["store.sqlite3", "store.sqlite3.lock"]


# --- help and notices ------------------------------------------------------------------------------

def test_telegram_help_shows_the_listen_and_port_defaults(hipbot: Run) -> None:
    result = hipbot("telegram", "--help")
    text = " ".join(result.out.split())
    assert result.status == 0
    assert "--listen LISTEN address the webhook server listens on (default: 127.0.0.1)" in text
    assert "--port PORT port the webhook server listens on (default: 8443)" in text


def test_the_index_build_notice_wraps_to_the_terminal() -> None:
    """The notice as `hipbot` logs it (the logging that `main` sets up), in a 40-column terminal."""
    code = ("import logging; from bot import cli; cli._configure_logging(); logging.getLogger('bot._engine').warning("
            "'Building the answer index for this knowledge (first run only; a few seconds).')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env={**os.environ, "COLUMNS": "40"})
    lines = result.stderr.splitlines()
    assert lines[0].startswith("hipbot: Building") and len(lines) == 3
    assert all(len(line) <= 40 for line in lines)
    assert " ".join(line.strip() for line in lines).endswith("(first run only; a few seconds).")
