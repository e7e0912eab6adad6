"""The `hipbot` command through a subprocess: the machine-readable contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"intent", "topic", "text", "sources", "confidence", "suggestions"}


def hipbot(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
        cwd=ROOT, env={**os.environ, **(env or {})}, timeout=120,
    )


def test_ask_prints_the_reply():
    result = hipbot("ask", "how", "should", "I", "set", "my", "feet?")
    assert result.returncode == 0, result.stderr
    assert "perpendicular" in result.stdout


def test_ask_json_is_one_object_with_the_contract_keys():
    result = hipbot("ask", "--json", "why does my lower back hurt on hip thrusts?")
    reply = json.loads(result.stdout)
    assert set(reply) == KEYS
    assert reply["intent"] == "cause"
    assert all(set(s) == {"id", "heading", "score"} for s in reply["sources"])
    assert 0.0 <= reply["confidence"] <= 1.0
    assert reply["suggestions"] and all(isinstance(s, str) for s in reply["suggestions"])


def test_jsonl_sessions_keep_their_own_state():
    lines = [
        {"text": "could the bench height be why my back hurts?", "session": "a"},
        {"text": "is arching at the top the reason my back hurts?", "session": "b"},
        {"text": "how do I fix that?", "session": "a"},
        {"text": "how do I fix that?", "session": "b"},
        {"text": "how do I fix that?"},
    ]
    result = hipbot("ask", "--jsonl", stdin="".join(json.dumps(x) + "\n" for x in lines))
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["topic"] for r in replies] == [
        "cause.bench_height", "cause.lumbar_extension", "fix.bench_height", "fix.range_of_motion", "fix.general",
    ]
    assert [r.get("session") for r in replies] == ["a", "b", "a", "b", None]
    assert result.returncode == 0


def test_jsonl_bad_lines_get_error_objects_and_the_rest_is_answered():
    stream = "\n".join([
        '{"text": "hi"}', "not json", '{"session": "x"}', "", '{"text": 5}', '["text"]',
        json.dumps({"text": "x" * 2_000_000}), '{"text": "how do I brace?"}',
    ]) + "\n"
    result = hipbot("ask", "--jsonl", stdin=stream)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 8
    assert out[0]["intent"] == "greeting" and out[7]["intent"] == "fix"
    assert [o.get("line") for o in out[1:7]] == [2, 3, 4, 5, 6, 7]
    assert all("error" in o for o in out[1:7])
    assert result.returncode == 1


def test_jsonl_replies_are_flushed_line_by_line():
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


def test_eval_prints_the_scores(tmp_path):
    labelled = tmp_path / "set.yaml"
    labelled.write_text(
        "version: 1\nitems:\n"
        "  - {id: a, text: 'my toes go numb', intent: red_flag, topic: red_flag.numbness, evidence: [numbness]}\n"
        "  - {id: b, text: 'hello', intent: greeting, topic: greeting, evidence: []}\n"
        "  - {id: c, text: 'hello', intent: cause, topic: cause.general, evidence: []}\n"
        "conversations:\n"
        "  - id: k\n    turns:\n"
        "      - {text: 'is my pad too high the reason it hurts?', intent: cause, topic: cause.pad_position, evidence: [hip crease]}\n"
        "      - {text: 'how do I fix that', intent: fix, topic: fix.pad_position, evidence: [foam pad]}\n"
    )
    result = hipbot("eval", str(labelled))
    assert result.returncode == 0, result.stderr
    assert "accuracy: 80.0%  (4/5)" in result.stdout
    assert "red-flag recall: 100.0%" in result.stdout
    assert "c [intent] expected cause.general, got greeting.hello" in result.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("version: 1\nversion: 2\n", "intents.yaml: line 2: duplicate key 'version'"),
    ("- just\n- a list\n", "intents.yaml: top level: expected a mapping, got list"),
    ("version: [1\n", "intents.yaml: line 2: invalid YAML"),
])
def test_malformed_intents_file_is_one_line_and_status_2(tmp_path, content, message):
    bad = tmp_path / "intents.yaml"
    bad.write_text(content)
    result = hipbot("ask", "hi", env={"HIPBOT_INTENTS": str(bad)})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_corpus_is_one_line_and_status_2(tmp_path):
    result = hipbot("ask", "hi", env={"HIPBOT_CORPUS": str(tmp_path / "nowhere")})
    assert result.returncode == 2
    assert "corpus folder not found" in result.stderr


def test_ask_does_not_import_scikit_learn_when_the_index_is_cached():
    hipbot("ask", "warm the cache")
    code = "import sys; from bot.cli import main; main(['ask', 'hi']); print('sklearn' in sys.modules, 'telegram' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.strip().endswith("False False")


def test_eval_compare_scores_each_system(tmp_path):
    labelled = tmp_path / "set.yaml"
    labelled.write_text(
        "items:\n"
        "  - {id: a, text: 'my toes go numb on thrusts', intent: red_flag, evidence: [numbness]}\n"
        "  - {id: b, text: 'my booty never fires, only my low back. why', intent: cause, evidence: [erector spinae]}\n"
    )
    result = hipbot("eval", str(labelled), "--compare")
    assert result.returncode == 0, result.stderr
    rows = {line[:34].strip(): line[34:].split() for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {"full bot", "bare TF-IDF top chunk", "rapidfuzz on example phrases", "full bot without slang lexicon",
                         "TF-IDF only (no encoder)", "encoder only for topics"}
    assert rows["full bot"] == ["100.0%", "100.0%", "0.0%"]


def test_jsonl_drives_a_guided_check():
    texts = ["/check", "none of these", "at the top when I lock out", "stop"]
    result = hipbot("ask", "--jsonl", stdin="".join(json.dumps({"text": t, "session": "c"}) + "\n" for t in texts))
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["intent"] for r in replies[:3]] == ["check", "check", "check"]
    assert replies[0]["topic"] == "check.screen" and replies[1]["topic"].startswith("check.")
    assert replies[2]["topic"] != replies[1]["topic"]
    assert "check stopped" in replies[3]["text"]


def test_jsonl_bad_sessions_are_line_errors_and_numbers_differ_from_strings():
    lines = ['{"text": "hi", "session": "\\ud800"}', '{"text": "hi", "session": true}',
             '{"text": "could the bench height be why my back hurts?", "session": 1}',
             '{"text": "how do I fix that?", "session": "1"}', '{"text": "how do I fix that?", "session": 1}']
    result = hipbot("ask", "--jsonl", stdin="\n".join(lines) + "\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in o) for o in out] == [True, True, False, False, False]
    assert out[3]["topic"] == "fix.general" and out[4]["topic"] == "fix.bench_height"


def test_jsonl_forgets_the_least_recently_used_session_beyond_its_limit():
    lines = [{"text": "could the pad on my belly be the problem?", "session": "a"},
             {"text": "hi", "session": "b"},
             {"text": "hi", "session": "c"},  # with room for two, "a" is forgotten here
             {"text": "ok how do I fix that?", "session": "a"}]
    result = hipbot("ask", "--jsonl", "--max-sessions", "2", stdin="\n".join(json.dumps(l) for l in lines) + "\n")
    replies = [json.loads(l) for l in result.stdout.splitlines()]
    assert replies[0]["topic"] == "cause.pad_position"
    assert replies[3]["topic"] != "fix.pad_position"  # no memory of "a" any more
    kept = hipbot("ask", "--jsonl", "--max-sessions", "3", stdin="\n".join(json.dumps(l) for l in lines) + "\n")
    assert json.loads(kept.stdout.splitlines()[3])["topic"] == "fix.pad_position"


def test_jsonl_refuses_session_ids_over_200_characters():
    result = hipbot("ask", "--jsonl", stdin=json.dumps({"text": "hi", "session": "x" * 201}) + "\n")
    assert "longer than 200" in json.loads(result.stdout)["error"] and result.returncode == 1


def test_jsonl_with_an_unusable_corpus_is_one_line_and_exit_2_before_reading(tmp_path):
    result = hipbot("ask", "--jsonl", stdin='{"text": "hi"}\n', env={"HIPBOT_CORPUS": str(tmp_path / "missing")})
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "missing" in result.stderr


def test_a_closed_pipe_ends_quietly():
    process = subprocess.Popen(f"{sys.executable} -m bot.cli ask --jsonl | head -1", shell=True, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    out, err = process.communicate('{"text": "hi"}\n' * 200, timeout=120)
    assert len(out.splitlines()) == 1 and "Traceback" not in err


def test_eval_gates_and_report_file(tmp_path):
    labelled = tmp_path / "set.yaml"
    labelled.write_text(
        "version: 1\nitems:\n"
        "  - {id: a, text: 'my toes go numb on thrusts', intent: red_flag, topic: red_flag.numbness, evidence: [numbness]}\n"
        "  - {id: b, text: 'where should the pad sit?', intent: cause, topic: cause.pad_position}\n"
    )
    out = tmp_path / "report.json"
    passed = hipbot("eval", str(labelled), "--report", str(out), "--min-redflag-recall", "1.0")
    assert passed.returncode == 0, passed.stderr
    data = json.loads(out.read_text())
    assert data["items"] == 2 and data["red_flag_recall"] == 1.0
    assert [o["id"] for o in data["outcomes"]] == ["a", "b"] and data["calibration"]
    failed = hipbot("eval", str(labelled), "--min-accuracy", "0.9")
    assert failed.returncode == 1 and "accuracy 50.0% is below 90.0%" in failed.stderr
