"""The benchmark's building blocks on tiny inputs: well-formed numbers, and no timing thresholds."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is run from the project folder, not installed
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from benchmarks import growth, latency, memory, process, report, store, telegram_path  # noqa: E402
from benchmarks.common import (  # noqa: E402
    MB,
    Check,
    ChildRun,
    Table,
    child_env,
    cycle,
    percentiles,
    questions,
    run_child,
)
from bot import Engine, Reply, State, load_corpus  # noqa: E402

TEXTS = ["why does my lower back hurt on hip thrusts?", "how do I fix that?", "my leg goes numb on thrusts"]


def test_cycle_and_percentiles() -> None:
    assert cycle(["a", "b"], 5) == ["a", "b", "a", "b", "a"]
    points = percentiles([1_000_000 * n for n in range(1, 101)])
    assert list(points) == [50, 95, 99]
    assert 0 < points[50] < points[95] < points[99] <= 100


def test_questions_are_texts() -> None:
    texts = questions(ROOT / "tests" / "data" / "paraphrases.yaml")
    assert texts and all(isinstance(text, str) for text in texts)


def test_time_calls_gives_one_sample_per_call() -> None:
    samples = latency.time_calls([len, str.upper], ["a", "bb", "ccc"], warmup=2)
    assert [len(s) for s in samples] == [3, 3]
    assert all(isinstance(t, int) and t >= 0 for s in samples for t in s)


def test_latency_table(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def answer(text: str, state: State | None = None) -> Reply:
        asked.append(text)
        return Engine.answer(engine, text, state)

    monkeypatch.setattr(engine, "answer", answer)
    table = latency.measure(engine, TEXTS, calls=6, warmup=2)
    assert asked == TEXTS[:2] + [TEXTS[i % 3] for i in range(6)]  # the warm-up, then each call timed once
    assert [row[0] for row in table.rows] == ["p50", "p95", "p99"]
    figures = [tuple(float(cell.split()[0].rstrip("x")) for cell in row[1:4]) for row in table.rows]
    for ours, floor, ratio in figures:
        assert ours > 0 and floor > 0
        assert ratio == pytest.approx(ours / floor, rel=0.05, abs=0.01)  # the cells round to 3 and 2 decimals
    assert [f[0] for f in figures] == sorted(f[0] for f in figures)  # p50 <= p95 <= p99
    assert [f[1] for f in figures] == sorted(f[1] for f in figures)
    assert [check.name for check in table.checks] == ["answer p50", "answer p99"]
    for check, row in zip(table.checks, (table.rows[0], table.rows[2])):
        assert check.measured.startswith(row[1]) and check.target == row[4]
        assert row[5] == ("meets" if check.met else "MISSES")
        assert check.met == (float(row[1].split()[0]) <= latency.TARGET_MS[int(row[0][1:])])


def test_run_child_times_and_measures(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("hi", encoding="utf-8")
    run = run_child([sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"], child_env(tmp_path), source)
    assert run.returncode == 0 and run.stdout == b"HI\n"
    assert run.seconds > 0 and run.peak_rss > MB


def test_jsonl_run_answers_every_line(engine: Engine, index_cache: Path) -> None:
    runs = process.jsonl_runs(TEXTS, index_cache, runs=1)
    replies = [json.loads(line) for line in runs[0].stdout.splitlines()]
    assert [r["topic"] for r in replies] == [engine.answer(text).topic for text in TEXTS]  # each line, in order
    table = process.throughput_table(runs, len(TEXTS))
    assert table.rows[0][:2] == ("3", "1")
    assert float(table.rows[0][3]) == pytest.approx(len(TEXTS) / runs[0].seconds, abs=0.051)


def test_parse_importtime() -> None:
    stderr = ("import time: self [us] | cumulative | imported package\n"
              "import time:       120 |        120 |   _io\n"
              "import time:      3000 |       5000 | numpy\n"
              "something else\n")
    assert process.parse_importtime(stderr) == [("_io", 120, 120), ("numpy", 3000, 5000)]


def test_perturbed_copy_keeps_topics_and_words() -> None:
    markdown = "---\ntitle: T\n---\n# T\n\n## A {#cause.x}\n\nOne sentence here. Another one there.\n\n## B {#faq}\n"
    copy = growth.perturb(markdown, 7, random.Random(1))
    assert copy.startswith("---\ntitle: T\n---\n# T\n")
    assert "{#cause.x_copy7 topic=cause.x}" in copy and "{#faq.copy7 topic=faq}" in copy
    body = "One sentence here. Another one there."
    paragraph = next(line for line in copy.splitlines() if "sentence" in line)
    assert sorted(re.sub(r"7", "", paragraph).split()) == sorted(body.split()) and "7" in paragraph


def test_synthesized_corpus_serves_the_same_topics(tmp_path: Path) -> None:
    growth.synthesize(ROOT / "corpus", tmp_path, factor=3)
    original, grown = load_corpus(ROOT / "corpus"), load_corpus(tmp_path)
    assert len(grown) == 3 * len(original)
    assert len({chunk.id for chunk in grown}) == len(grown)
    assert {chunk.topic for chunk in grown} == {chunk.topic for chunk in original}


def test_growth_table_and_plot(tmp_path: Path) -> None:
    sizes = [growth.Size(1, 37, 16000, 4.0, 0.1, 7 * MB, 0.6, 1.2),
             growth.Size(10, 370, 19000, 6.0, 0.12, 33 * MB, 1.0, 2.0)]
    table = growth.growth_table(sizes, calls=10)
    assert len(table.rows) == 2 and all(len(row) == len(table.columns) for row in table.rows)
    growth.plot(sizes, tmp_path / "growth.png")
    assert (tmp_path / "growth.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_memory_and_telegram_tables() -> None:
    run = ChildRun(1.0, 60 * MB, 0, b"", b"")
    table = memory.memory_table([run], 10, [run], 70 * MB, 1.0)
    assert table.rows[0][1] == "60 MB" and table.checks[0].met
    telegram = telegram_path.telegram_table(300.0, 100, 10)
    assert telegram.rows[0][4] == "10.0x" and not telegram.checks[0].met


def test_store_measures_a_small_store_and_its_table() -> None:
    runs = store.measure([50, 200], changed=20)
    assert [(run.stored, run.changed) for run in runs] == [(50, 20), (200, 20), (200, 200)]
    assert all(run.shutdown_seconds > 0 and run.stall_seconds >= 0 for run in runs)
    table = store.store_table(runs, 5 * MB, 50 * MB, 60 * MB)
    assert table.rows[0][:2] == ("50", "20") and "10.0 MB per 10,000 sessions" in table.note
    assert [check.name for check in table.checks] == ["store shutdown at 200 stored chats",
                                                      "event-loop stall while the store writes (1,000 changed)"]


def test_sendable_drops_what_a_user_cannot_send(engine) -> None:
    assert telegram_path.sendable(engine, ["", "x" * 5000, TEXTS[0], TEXTS[0]]) == [TEXTS[0]]


def test_report_renders(tmp_path: Path) -> None:
    table = Table("T", ("a", "b"), [("1", "2")], note="n", checks=[Check("x", "1 ms", "< 2 ms", True)])
    assert "| a | b |" in report.markdown(table) and report.console(table).startswith("== T ==")
    text = report.write(tmp_path, [table, Table("raw", text="x  y")], "growth.png", [("mode", "test")]).read_text()
    assert "## Targets" in text and "| cores |" in text and "```text" in text and "(growth.png)" in text
