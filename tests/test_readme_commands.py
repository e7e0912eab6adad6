"""A tour of the README: every `hipbot` command it shows runs as written, in a checkout, offline.

The commands are read from the README itself: the lines of its ```bash blocks, the `$ ` lines of its
```text blocks and the inline `hipbot ...` commands of its prose. Each is run through `bot.cli.main` in
this process (a subprocess only for a shell pipeline into another program), from a folder that holds
the checkout's `examples/` and a review inbox with questions in it. Placeholders (TEXT, FILE.yaml,
PATH ...) get a value; a command that only names a sub-command runs with --help, or with input piped.
`hipbot telegram` runs without a token (one line, exit 2, nothing created), and the local webhook
recipe runs end to end against the fake Bot API server. Other commands (installs, the suite, the
benchmarks, exports of a real token) are listed in NOT_RUN with the reason; a command that is neither
run nor listed fails the tour, so a new README command gets a test or a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from _drivers import until
from bot.cli import main
from fake_bot_api import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOKEN = "123456:" + "B" * 35
QUESTION = "where should the pad sit?"
PLACEHOLDERS = {"TEXT": QUESTION, "FILE.yaml": "examples/sample-eval.yaml", "FILE": "examples/sample-eval.yaml",
                "FILE.png": "setup.png", "PATH": "inbox.sqlite3"}
NOT_RUN = {  # command prefix: why the tour does not run it
    "python3 -m venv .venv": "installs the checkout: CI (.ci/run) does exactly that from a fresh clone",
    ".venv/bin/pip install": "installs: CI does that from a fresh clone",
    ".venv/bin/pytest": "the suite itself: CI runs it",
    ".venv/bin/python -m benchmarks": "minutes long; tests/test_benchmarks.py covers the benchmark code",
    "export TELEGRAM_": "a real bot's token or secret",
}
SAMPLE_JSONL = ('{"text": "could my bench be too high?", "session": "a"}\n'
                '{"text": "how do I fix that?", "session": "a"}\n')


@dataclass(frozen=True)
class Shown:
    """One command as the README shows it, and where."""

    command: str
    line: int
    fenced: bool  # in a code block (run as written), or inline in the prose


def shown_commands() -> list[Shown]:
    """Every command of the README's bash blocks, the `$ ` lines of its text blocks, and every inline
    `hipbot ...` command of its prose (in tables too, where `\\|` is a pipe)."""
    found: list[Shown] = []
    fence: str | None = None
    pending = ""
    for number, raw in enumerate(README.splitlines(), 1):
        line = raw.strip()
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence == "bash":
            pending += line
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            if pending and not pending.startswith("#"):
                found.append(Shown(re.sub(r"\s+#.*$", "", pending).strip(), number, True))
            pending = ""
        elif fence == "text":
            if line.startswith("$ "):
                found.append(Shown(line[2:], number, True))
        elif fence is None:
            for span in re.findall(r"`([^`]+)`", raw):
                span = span.replace("\\|", "|")
                if re.match(r"(?:(?:echo|printf) .*\|\s*)?(?:\.venv/bin/)?hipbot(?:\s|$)", span):
                    found.append(Shown(span, number, False))
    return found


COMMANDS = shown_commands()


def parts(command: str) -> list[str]:
    """The commands of an `a && b` chain."""
    return [part.strip() for part in command.split("&&")]


def invokes_hipbot(part: str) -> bool:
    return bool(re.search(r"(?:^|\|\s*)(?:\.venv/bin/)?hipbot(?:\s|$)", part))


def _same(part: str) -> str:
    """A part with `.venv/bin/` dropped and the placeholders filled: two parts alike run once."""
    words = [PLACEHOLDERS.get(word, word) for word in shlex.split(part.replace(".venv/bin/hipbot", "hipbot"))]
    return shlex.join(words)


HIPBOT_PARTS = sorted({_same(part): part for shown in reversed(COMMANDS) for part in parts(shown.command)
                       if invokes_hipbot(part)}.values())


def test_the_readme_shows_the_commands_a_newcomer_runs() -> None:
    shown = " ".join(s.command for s in COMMANDS)
    for expected in ("hipbot chat", "hipbot ask \"", "| .venv/bin/hipbot ask", "hipbot ask --jsonl",
                     "hipbot eval examples/sample-eval.yaml", "--compare", "--min-redflag-recall", "hipbot telegram",
                     "hipbot review"):
        assert expected in shown, expected
    assert "../" not in shown  # no file outside the checkout
    assert (ROOT / "examples" / "sample-eval.yaml").is_file()


def test_every_command_is_run_by_the_tour_or_has_a_reason() -> None:
    others = [part for shown in COMMANDS for part in parts(shown.command) if not invokes_hipbot(part)]
    assert [part for part in others if not part.startswith(tuple(NOT_RUN))] == []
    assert {prefix for prefix in NOT_RUN if not any(part.startswith(prefix) for part in others)} == set()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """A folder to run the README's commands in: the checkout's examples/, and review inboxes (the
    default one and inbox.sqlite3) holding questions, so review, its export and eval of it have data."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    for inbox in ([], ["inbox.sqlite3"]):  # the default inbox, and the one PATH names
        assert main(["ask", "how many sets and reps should I do?", "--review-log", *inbox]) == 0
    assert main(["review", "--export", "new.yaml"]) == 0
    capsys.readouterr()
    return tmp_path


def hipbot_argv(part: str) -> tuple[list[str], str | None, str | None]:
    """The arguments after `hipbot`, what is piped into it, and the program it is piped into."""
    before, _, after = part.partition("|") if re.match(r"(?:echo|printf)\s", part) else ("", "", part)
    words = shlex.split(after)
    into = None
    if "|" in words:
        into = " ".join(words[words.index("|") + 1:])
        words = words[:words.index("|")]
    stdin = None
    if before:
        program, *values = shlex.split(before)
        if program == "echo":
            stdin = " ".join(PLACEHOLDERS.get(value, value) for value in values) + "\n"
        else:
            assert values[0] == "%s\\n", f"only printf '%s\\n' is understood: {before}"
            stdin = "".join(value + "\n" for value in values[1:])
    assert Path(words[0]).name == "hipbot", part
    return [PLACEHOLDERS.get(word, word) for word in words[1:]], stdin, into


def run(argv: list[str], stdin: str | None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`main(argv)` with `stdin` piped (bytes, like a pipe); its status, stdout and stderr."""
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8"))
    try:
        status = main(argv)
    except SystemExit as exit_:  # --help and --version end through argparse
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


BARE = {  # a command named in the prose without its input: how the tour gives it some
    (): (["--help"], None),
    ("ask",): (["ask"], QUESTION + "\n"),
    ("ask", "--jsonl"): (["ask", "--jsonl"], SAMPLE_JSONL),
    ("chat",): (["chat"], "/quit\n"),
    ("eval",): (["eval", "--help"], None),
    ("telegram",): (["telegram"], None),
}


@pytest.mark.parametrize("part", [pytest.param(p, marks=pytest.mark.slow(seconds=15)) if "--compare" in p else p
                                  for p in HIPBOT_PARTS if " telegram" not in p and "COMMAND" not in p],
                         ids=lambda p: p[:70])  # --compare builds the index without the slang lexicon
def test_the_command_runs_as_written(part: str, workspace: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    argv, stdin, into = hipbot_argv(part)
    if into is not None:  # piped into another program: a real pipeline
        pipeline = f"{shlex.quote(sys.executable)} -m bot.cli {shlex.join(argv)} | {into}"
        done = subprocess.run(pipeline, shell=True, input=SAMPLE_JSONL * 50, capture_output=True, text=True,
                              cwd=workspace, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert [json.loads(line)["topic"] for line in done.stdout.splitlines()] == ["cause.bench_height"]
        return
    if stdin is None and tuple(argv) in BARE:
        argv, stdin = BARE[tuple(argv)]
    status, out, err = run(argv, stdin, monkeypatch, capsys)
    assert status == 0, err
    assert "Traceback" not in err
    if "--help" in argv or not argv:
        assert out.startswith("usage: hipbot") and len(out.splitlines()) > 5
    elif argv[0] == "--version":
        assert out.startswith("hipbot ")
    elif argv[0] == "ask" and ("--json" in argv or "--explain" in argv):
        reply = json.loads(out)
        assert reply["intent"] in ("cause", "fix", "about") and reply["text"]
    elif argv[0] == "ask" and "--jsonl" in argv:
        replies = [json.loads(line) for line in out.splitlines()]
        assert [r["topic"] for r in replies] == ["cause.bench_height", "fix.bench_height"]
    elif argv[0] == "ask" and "--picture" in argv:
        assert (workspace / argv[argv.index("--picture") + 1]).read_bytes().startswith(b"\x89PNG")
    elif argv[0] == "ask":
        assert "You could ask:" in out and len(out.split()) > 20
    elif argv[0] == "chat":
        assert out.count("\n") > 2 and "/help" in out
    elif argv[0] == "eval" and "--compare" in argv:
        assert out.splitlines()[0].split() == ["system", "accuracy", "red-flag", "recall", "false", "escalation"]
        assert out.splitlines()[1].startswith("full bot ")
    elif argv[0] == "eval":
        assert re.search(r"^accuracy: \d+\.\d%", out, re.MULTILINE), out
        if "--report" in argv:
            assert json.loads((workspace / argv[argv.index("--report") + 1]).read_text())["items"] > 0
    elif argv[0] == "review" and "--purge" in argv:
        assert out.startswith("Removed 1 questions")
    elif argv[0] == "review":
        assert "how many sets and reps" in out
    else:
        pytest.fail(f"no check for {part!r}: add one")


@pytest.mark.parametrize("part", [p for p in HIPBOT_PARTS if " telegram" in p], ids=lambda p: p[:70])
def test_telegram_commands_parse_and_stop_at_the_missing_token(part: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Run as written but without a token: the options are accepted, the error is one line, exit 2,
    and nothing is created (the conversation store's folder included)."""
    argv, _, _ = hipbot_argv(part)
    if argv == ["telegram", "--help"]:
        return
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    status, out, err = run(argv, None, monkeypatch, capsys)
    assert (status, out) == (2, "")
    assert err == "hipbot: error: TELEGRAM_BOT_TOKEN is not set (create a bot with @BotFather and export its token)\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["ask", "chat", "eval", "review", "telegram"])
def test_command_help_describes_it_and_every_option_default(command: str, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`hipbot COMMAND --help`, as the README shows it: a description, and each option that takes a value
    names its default."""
    part = next(p for p in HIPBOT_PARTS if "COMMAND" in p)
    argv, _, _ = hipbot_argv(part.replace("COMMAND", command))
    status, out, _ = run(argv, None, monkeypatch, capsys)
    assert status == 0
    description = out.split("\n\n")[1]
    assert len(description.split()) > 10 and not description.lstrip().startswith(("options:", "positional"))
    options = [" ".join(entry.split()) for entry in re.split(r"\n  (?=-)", out.split("options:", 1)[1])]
    valued = [o for o in options if re.match(r"--[\w-]+ [A-Z\[]", o)]  # an option that takes a value
    assert valued and all("default" in o for o in valued), valued


def test_the_example_session_prints_as_shown(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The README's `hipbot chat` session, typed into `hipbot chat` in an 88-column terminal, prints what the
    README shows (compared with whitespace collapsed). On a change of replies, paste the new session in."""
    session = README.split("$ hipbot chat\n", 1)[1].split("```", 1)[0]
    typed = [line[len("you> "):] for line in session.splitlines() if line.startswith("you> ")]
    printed = [line for line in session.splitlines() if not line.startswith("you> ")]
    monkeypatch.setenv("COLUMNS", "88")
    status, out, _ = run(["chat"], "".join(t + "\n" for t in typed), monkeypatch, capsys)
    assert status == 0
    assert " ".join(out.split()) == " ".join(" ".join(printed).split())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_local_webhook_recipe(tmp_path: Path) -> None:
    """The README's local webhook command, with the fake Bot API server in the place of telegram-bot-api:
    a plain-HTTP webhook is accepted with --base-url and /healthz answers 200 once the bot is ready."""
    recipe = next(p for p in HIPBOT_PARTS if "--webhook http://" in p)
    argv, _, _ = hipbot_argv(recipe)
    port = _free_port()
    async with FakeBotAPI(TOKEN) as api:
        argv = [api.base_url if a == "http://127.0.0.1:8081/bot" else a.replace(":8443", f":{port}")
                for a in argv]
        argv = [str(port) if a == "8443" else a for a in argv]
        assert f"http://127.0.0.1:{port}/hipbot" in argv and api.base_url in argv
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", *argv, cwd=ROOT, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "XDG_STATE_HOME": str(tmp_path)},
        )
        try:
            async with aiohttp.ClientSession() as session:

                async def healthy() -> bool:
                    with contextlib.suppress(aiohttp.ClientConnectionError):
                        async with session.get(f"http://127.0.0.1:{port}/healthz") as health:
                            return health.status == 200 and (await health.json())["ok"] is True
                    return False

                await until(healthy, timeout=90)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()
        assert [c.params["url"] for c in api.calls_of("setWebhook")] == [
            f"http://127.0.0.1:{port}/hipbot"]
