"""The `hipbot` command: a thin shell over the core (ask, chat, telegram, eval)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import DataError, InboxError
from ._knowledge import state_file
from ._model import Answer

if TYPE_CHECKING:
    from .review import Inbox


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one sub-command; data errors exit with status 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "telegram":  # the bot configures its own logging
        logging.basicConfig(format="hipbot: %(message)s", level=logging.WARNING)
    try:
        return int(args.run(args) or 0)
    except (DataError, InboxError) as exc:
        print(f"hipbot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # "hipbot ask --jsonl | head -1": the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hipbot",
                                     description="Back pain on the hip thrust machine: answers from one expert "
                                                 "article. Not medical advice.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="answer one question (or JSON lines from stdin with --jsonl)")
    ask.add_argument("text", nargs="*", help="the question")
    mode = ask.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print the reply as one JSON object")
    mode.add_argument("--jsonl", action="store_true",
                      help="read {\"text\", \"session\"} lines from stdin, write one JSON reply per line")
    ask.add_argument("--max-sessions", type=_positive, default=_default_sessions(), metavar="N",
                     help="with --jsonl: remember at most N sessions, forgetting the least recently used "
                          "(default 10000, or $HIPBOT_JSONL_SESSIONS)")
    ask.add_argument("--picture", type=Path, metavar="FILE.png",
                     help="when the reply comes with the setup picture (e.g. \"/diagram\"), write it to this PNG file")
    ask.add_argument("--explain", action="store_true", help="print the reply as JSON with \"why\": the signs, "
                     "sections, scores and rules behind it")
    ask.set_defaults(run=_ask)

    chat = commands.add_parser("chat", help="talk to hipbot in the terminal")
    chat.set_defaults(run=_chat)

    review = commands.add_parser("review", help="list the questions in the review inbox, grouped, most asked first")
    review.add_argument("--export", type=Path, metavar="FILE.yaml", help="write the groups as labelled-set stubs")
    review.add_argument("--purge", action="store_true", help="empty the inbox")
    review.set_defaults(run=_review)
    for command in (ask, chat, review):
        _add_review_log(command)

    evaluate = commands.add_parser("eval", help="score a labelled set")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--compare", action="store_true",
                          help="also score bare TF-IDF, fuzzy example matching and the bot without its slang lexicon")
    evaluate.add_argument("--report", type=Path, metavar="FILE.json",
                          help="also write every item (expected and got), the per-intent table "
                               "and the calibration as JSON")
    evaluate.add_argument("--min-accuracy", type=float, metavar="X", help="exit 1 if accuracy is below X (0..1)")
    evaluate.add_argument("--min-redflag-recall", type=float, metavar="Y",
                          help="exit 1 if red-flag recall is below Y (0..1)")
    evaluate.set_defaults(run=_eval)

    telegram = commands.add_parser("telegram", help="run the Telegram bot (token in TELEGRAM_BOT_TOKEN)")
    from .telegram_options import add_telegram_arguments

    add_telegram_arguments(telegram)
    _add_review_log(telegram)
    telegram.set_defaults(run=_telegram)
    return parser


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


def _ask(args: argparse.Namespace) -> int:
    from ._engine import default_engine

    answer = _answering(args)
    if args.jsonl:
        from .jsonl import serve_jsonl

        if args.text:
            print("hipbot: error: --jsonl reads questions from stdin, not from arguments", file=sys.stderr)
            return 2
        default_engine()  # an unusable corpus is one error line and exit 2, before any line is read
        return serve_jsonl(sys.stdin, sys.stdout, answer, args.max_sessions)
    text = " ".join(args.text)
    reply = answer(text, None)
    if args.picture and reply.picture:
        from .picture import setup_png

        args.picture.write_bytes(setup_png(tuple(sorted(reply.picture))))
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
    return run_repl(_answering(args), engine.config.copy, explain=engine.explain)


def _review(args: argparse.Namespace) -> int:
    from .review import Inbox, export_stubs, group, render
    from .telegram_options import retention_days

    with Inbox(args.review_log or state_file("review.sqlite3"), retention_days=retention_days()) as inbox:
        if args.purge:
            print(f"Removed {inbox.purge()} questions from the review inbox.")
            return 0
        groups = group(inbox.entries())
    print(render(groups))
    if args.export:
        print(f"\nWrote {export_stubs(groups, args.export)} items to {args.export}: "
              "label them, then run hipbot eval on it.")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ._engine import answer, default_engine
    from .evaluate import check_topics, compare, evaluate, load_cases, report, report_json

    cases = load_cases(args.file)
    check_topics(cases, default_engine().topics(), args.file)
    if args.compare:
        print(compare(cases))
        return 0
    scores = evaluate(cases, answer)
    print(report(scores))
    if args.report:
        args.report.write_text(json.dumps(report_json(scores), ensure_ascii=False, indent=1), encoding="utf-8")
    below = [f"{name} {value:.1%} is below {floor:.1%}" for name, value, floor in (
        ("accuracy", scores.accuracy, args.min_accuracy),
        ("red-flag recall", scores.red_flag_recall, args.min_redflag_recall),
    ) if floor is not None and value < floor]
    for problem in below:
        print(f"hipbot: {problem}", file=sys.stderr)
    return 1 if below else 0


def _telegram(args: argparse.Namespace) -> int:
    from .telegram import run_telegram

    return run_telegram(args)


if __name__ == "__main__":
    raise SystemExit(main())
