"""The `hipbot` command: a thin shell over the core (ask, chat, telegram, eval, review)."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ._errors import DataError, InboxError
from ._knowledge import state_file
from ._model import Answer

if TYPE_CHECKING:
    from .evaluate import Scores
    from .review import Inbox


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one sub-command. Usage errors exit with status 2 (argparse);
    so do data errors and unusable paths, as one line on stderr."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "telegram":  # the bot configures its own logging
        _configure_logging()
    try:
        return int(args.run(args) or 0)
    except (DataError, InboxError) as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # "hipbot ask --jsonl | head -1": the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.filename is None:  # not about a path the user gave: a real failure, with its traceback
            raise
        return _error(f"{exc.filename}: {exc.strerror or type(exc).__name__}")


def _error(problem: str) -> int:
    print(f"hipbot: error: {' '.join(problem.split())}", file=sys.stderr)
    return 2


class _Wrapped(logging.Formatter):
    """`hipbot: message`, wrapped to the terminal's width (`COLUMNS` honoured)."""

    def format(self, record: logging.LogRecord) -> str:
        return textwrap.fill(super().format(record), _stderr_width(), subsequent_indent="  ",
                             break_on_hyphens=False, break_long_words=False)


def _stderr_width() -> int:
    """The width of the terminal stderr writes to ($COLUMNS first; 80 when it is not a terminal)."""
    try:
        return max(int(os.environ["COLUMNS"]), 20)
    except (KeyError, ValueError):
        pass
    try:
        return max(os.get_terminal_size(sys.stderr.fileno()).columns, 20)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return shutil.get_terminal_size().columns


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Wrapped("hipbot: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _default_sessions() -> int:
    from .jsonl import MAX_SESSIONS

    value = os.environ.get("HIPBOT_JSONL_SESSIONS", "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_SESSIONS


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hipbot")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


ASK = """Answer one question from the article and print the reply with its suggested follow-ups.
The question is the arguments, or, when none are given, what is piped on stdin
(echo "why does my back hurt?" | hipbot ask). --jsonl answers JSON lines from stdin instead."""
CHAT = """Talk to hipbot in the terminal. The answer index is loaded (or, the first time in a checkout,
built) before the first prompt. Type a number to ask a suggested follow-up; /why, /about, /help,
/reset, /quit (or Ctrl-D)."""
REVIEW = """List the questions kept in the review inbox (turned on with --review-log on ask, chat or
telegram), similar wordings grouped, most asked first. An inbox that was never turned on is reported
as empty and no file is created."""
EVAL = """Score hipbot on a labelled set (YAML: version: 1, items: [{id, text, intent, topic, evidence}],
conversations: [{id, turns: [...]}]), e.g. examples/sample-eval.yaml. A gate on a category with no
items (red-flag recall of a set without red flags) reports n/a and never fails."""
TELEGRAM = """Run the Telegram bot: long polling by default, or a webhook server with --webhook (with
GET /healthz on the same port). The token comes from TELEGRAM_BOT_TOKEN and is never printed."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hipbot",
                                     description="Back pain on the hip thrust machine: answers from one expert "
                                                 "article. Not medical advice.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer one question (or JSON lines from stdin with --jsonl)",
                              description=ASK)
    ask.add_argument("text", nargs="*", help="the question (default: read from stdin when it is piped)")
    mode = ask.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print the reply as one JSON object")
    mode.add_argument("--jsonl", action="store_true",
                      help="read {\"text\", \"session\"} lines from stdin, write one JSON reply per line")
    ask.add_argument("--max-sessions", type=_positive, default=_default_sessions(), metavar="N",
                     help="with --jsonl: remember at most N sessions, forgetting the least recently used "
                          "(default 10000, or $HIPBOT_JSONL_SESSIONS)")
    ask.add_argument("--picture", type=Path, metavar="FILE.png",
                     help="when the reply comes with the setup picture (e.g. \"/diagram\"), write it to this PNG "
                          "file (default: not written)")
    ask.add_argument("--explain", action="store_true", help="print the reply as JSON with \"why\": the signs, "
                     "sections, scores and rules behind it")
    ask.set_defaults(run=_ask, usage_error=ask.error)

    chat = commands.add_parser("chat", help="talk to hipbot in the terminal", description=CHAT)
    chat.set_defaults(run=_chat)

    review = commands.add_parser("review", help="list the questions in the review inbox, grouped, most asked first",
                                 description=REVIEW)
    review.add_argument("--export", type=Path, metavar="FILE.yaml",
                        help="write the groups as labelled-set stubs (default: not written; never an empty file)")
    review.add_argument("--purge", action="store_true", help="empty the inbox")
    review.set_defaults(run=_review)
    for command in (ask, chat, review):
        _add_review_log(command)

    evaluate = commands.add_parser("eval", help="score a labelled set", description=EVAL)
    evaluate.add_argument("file", type=Path, help="the labelled set (YAML, UTF-8)")
    evaluate.add_argument("--compare", action="store_true",
                          help="also score bare TF-IDF, fuzzy example matching, the bot without its slang lexicon, "
                               "without the encoder and with the encoder alone for topics (the gates and --report "
                               "apply to the full bot)")
    evaluate.add_argument("--report", type=Path, metavar="FILE.json",
                          help="also write every item (expected and got), the per-intent table "
                               "and the calibration as JSON (default: not written)")
    evaluate.add_argument("--min-accuracy", type=_share, metavar="X",
                          help="exit 1 if accuracy is below X (0..1; default: no gate)")
    evaluate.add_argument("--min-redflag-recall", type=_share, metavar="Y",
                          help="exit 1 if red-flag recall is below Y (0..1; default: no gate; n/a, never failing, "
                               "for a set without red-flag items)")
    evaluate.set_defaults(run=_eval)

    telegram = commands.add_parser("telegram", help="run the Telegram bot (token in TELEGRAM_BOT_TOKEN)",
                                   description=TELEGRAM)
    from .telegram_options import add_telegram_arguments

    add_telegram_arguments(telegram)
    _add_review_log(telegram)
    telegram.set_defaults(run=_telegram)
    for command in (ask, chat, review, evaluate, telegram):
        _show_defaults(command)
    return parser


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every option's help names its default: those that do not say it yet get "(default: X)"."""
    for action in parser._actions:  # noqa: SLF001 - argparse has no public list of a parser's actions
        if (action.help and action.option_strings and "default" not in action.help
                and action.default not in (None, False, argparse.SUPPRESS)):
            action.help += " (default: %(default)s)"


def _share(value: str) -> float:
    """A floor between 0 and 1."""
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value!r}")
    return share


def _add_review_log(parser: argparse.ArgumentParser) -> None:
    default_path = state_file("review.sqlite3")
    parser.add_argument("--review-log", nargs="?", type=Path, const=default_path, metavar="PATH",
                        default=os.environ.get("HIPBOT_REVIEW_LOG") or None,
                        help="opt in to the review inbox: keep questions answered out of scope or with low "
                             f"confidence in this SQLite file (default {default_path}; or $HIPBOT_REVIEW_LOG)")


def _inbox(args: argparse.Namespace) -> Inbox | None:
    """The review inbox when the operator turned it on, else None."""
    if args.review_log is None:
        return None
    from .review import Inbox
    from .telegram_options import retention_days

    return Inbox(args.review_log, retention_days=retention_days())


def _answering(args: argparse.Namespace) -> Answer:
    """The core's answer, watched by the review inbox when it is on."""
    from ._engine import answer

    inbox = _inbox(args)
    if inbox is None:
        return answer
    from .review import watched

    return watched(answer, inbox)


def _writable(path: Path | None, what: str) -> None:
    """DataError (one line, exit 2) unless `path` can be written as a file: before any work is done."""
    if path is None:
        return
    if path.is_dir():
        raise DataError(str(path), "", f"is a folder; {what} needs a file name")
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise DataError(str(path), "", f"cannot write {what}: the folder {folder} {problem}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(str(path), "", f"cannot write {what}: no permission to write in {folder}")


def _question(args: argparse.Namespace) -> str:
    """The arguments, else what is piped on stdin; a usage error (exit 2) when there is neither."""
    given = " ".join(args.text).strip()
    if given:
        if not _utf8(given):  # bytes that are not UTF-8 reach argv as lone surrogates
            raise DataError("the question", "", "not UTF-8 text (check the terminal's encoding)")
        return given
    stdin: IO[str] | None = sys.stdin
    if stdin is None or stdin.isatty():
        args.usage_error("give the question as arguments, or pipe it on stdin (echo \"...\" | hipbot ask)")
    assert stdin is not None
    raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8", "surrogateescape")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise DataError("stdin", "", f"not UTF-8 text (byte {exc.start + 1})") from None
    if not text:
        args.usage_error("no question: stdin was empty; give the question as arguments or pipe it on stdin")
    return text


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _utf8_lines(stdin: IO[str]) -> IO[str]:
    """stdin as UTF-8 whatever the locale; bytes that are not UTF-8 reach the reader as surrogates,
    so such a line gets an error object instead of ending the stream."""
    if not hasattr(stdin, "buffer"):
        return stdin
    return io.TextIOWrapper(stdin.buffer, encoding="utf-8", errors="surrogateescape")


def _ask(args: argparse.Namespace) -> int:
    from ._engine import default_engine

    if args.jsonl:
        from .jsonl import serve_jsonl

        if args.text:
            args.usage_error("--jsonl reads questions from stdin, not from arguments")
        default_engine()  # an unusable corpus is one error line and exit 2, before any line is read
        return serve_jsonl(_utf8_lines(sys.stdin), sys.stdout, _answering(args), args.max_sessions)
    _writable(args.picture, "the picture")
    text = _question(args)
    reply = _answering(args)(text, None)
    if args.picture and reply.picture:
        from .picture import write_setup_png

        write_setup_png(args.picture, dict(reply.picture))
        print(f"hipbot: picture written to {args.picture}", file=sys.stderr)
    if args.explain:
        print(json.dumps({**reply.to_json(), "why": default_engine().explain(text).to_json()}, ensure_ascii=False))
    elif args.json:
        print(json.dumps(reply.to_json(), ensure_ascii=False))
    else:
        print(reply.text)
        if reply.suggestions:
            print("\nYou could ask: " + " | ".join(reply.suggestions))
    return 0


def _chat(args: argparse.Namespace) -> int:
    from ._engine import default_engine
    from .repl import run_repl

    engine = default_engine()  # load (or, the first time, build) the index before the first prompt
    stdin = sys.stdin
    if stdin is not None and not stdin.isatty() and hasattr(stdin, "buffer"):
        # piped lines: UTF-8 whatever the locale, a byte that is not UTF-8 read as U+FFFD, never a traceback
        stdin = io.TextIOWrapper(stdin.buffer, encoding="utf-8", errors="replace")
    return run_repl(_answering(args), engine.config.copy, stdin=stdin, explain=engine.explain)


def _review(args: argparse.Namespace) -> int:
    from .review import Inbox, export_stubs, group, render
    from .telegram_options import retention_days

    path = (args.review_log or state_file("review.sqlite3")).expanduser()
    _writable(args.export, "the export")
    if not path.exists():  # never turned on: nothing to read, and no file is created for it
        if args.purge:
            print("Removed 0 questions from the review inbox.")
            return 0
        print(f"The review inbox is empty ({path} does not exist: turn it on with --review-log "
              "on hipbot ask, chat or telegram).")
        if args.export:
            print(f"\nNothing to export: {args.export} was not written.")
        return 0
    with Inbox(path, retention_days=retention_days()) as inbox:
        if args.purge:
            print(f"Removed {inbox.purge()} questions from the review inbox.")
            return 0
        groups = group(inbox.entries())
    print(render(groups))
    if args.export and groups:
        print(f"\nWrote {export_stubs(groups, args.export)} items to {args.export}: "
              "label them, then run hipbot eval on it.")
    elif args.export:
        print(f"\nNothing to export: {args.export} was not written.")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ._engine import answer, default_engine
    from .evaluate import check_topics, compare_scores, compare_table, evaluate, load_cases, report, report_json

    _writable(args.report, "the report")
    cases = load_cases(args.file)
    check_topics(cases, default_engine().topics(), args.file)
    if args.compare:
        systems = compare_scores(cases)
        print(compare_table(systems))
        scores = systems["full bot"]
    else:
        scores = evaluate(cases, answer)
        print(report(scores))
    if args.report:
        args.report.write_text(json.dumps(report_json(scores), ensure_ascii=False, indent=1), encoding="utf-8")
    return _gates(scores, args.min_accuracy, args.min_redflag_recall)


def _gates(scores: Scores, min_accuracy: float | None, min_recall: float | None) -> int:
    """1 if a measured figure is below its floor, else 0; a gate on a category with no items is n/a."""
    failed = False
    for name, value, floor in (("accuracy", scores.accuracy_or_none, min_accuracy),
                               ("red-flag recall", scores.red_flag_recall_or_none, min_recall)):
        if floor is None:
            continue
        if value is None:
            print(f"hipbot: {name} is n/a (no items of that kind): the gate at {floor:.1%} does not apply",
                  file=sys.stderr)
        elif value < floor:
            print(f"hipbot: {name} {value:.1%} is below {floor:.1%}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def _telegram(args: argparse.Namespace) -> int:
    from .telegram import run_telegram

    return run_telegram(args)


if __name__ == "__main__":
    raise SystemExit(main())
