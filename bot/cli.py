"""The `hipbot` command: a thin shell over the core (ask, chat, telegram, eval)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ._errors import DataError


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one sub-command; data errors exit with status 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "telegram":  # the bot configures its own logging
        logging.basicConfig(format="hipbot: %(message)s", level=logging.WARNING)
    try:
        return int(args.run(args) or 0)
    except DataError as exc:
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
    parser = argparse.ArgumentParser(prog="hipbot", description="Back pain on the hip thrust machine: answers from one expert article. Not medical advice.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="answer one question (or JSON lines from stdin with --jsonl)")
    ask.add_argument("text", nargs="*", help="the question")
    mode = ask.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print the reply as one JSON object")
    mode.add_argument("--jsonl", action="store_true", help="read {\"text\", \"session\"} lines from stdin, write one JSON reply per line")
    ask.add_argument("--max-sessions", type=_positive, default=_default_sessions(), metavar="N",
                     help="with --jsonl: remember at most N sessions, forgetting the least recently used "
                          "(default 10000, or $HIPBOT_JSONL_SESSIONS)")
    ask.set_defaults(run=_ask)

    chat = commands.add_parser("chat", help="talk to hipbot in the terminal")
    chat.set_defaults(run=_chat)

    evaluate = commands.add_parser("eval", help="score a labelled set")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--compare", action="store_true",
                          help="also score bare TF-IDF, fuzzy example matching and the bot without its slang lexicon")
    evaluate.add_argument("--report", type=Path, metavar="FILE.json",
                          help="also write every item (expected and got), the per-intent table and the calibration as JSON")
    evaluate.add_argument("--min-accuracy", type=float, metavar="X", help="exit 1 if accuracy is below X (0..1)")
    evaluate.add_argument("--min-redflag-recall", type=float, metavar="Y", help="exit 1 if red-flag recall is below Y (0..1)")
    evaluate.set_defaults(run=_eval)

    telegram = commands.add_parser("telegram", help="run the Telegram bot (token in TELEGRAM_BOT_TOKEN)")
    from .telegram_options import add_telegram_arguments

    add_telegram_arguments(telegram)
    telegram.set_defaults(run=_telegram)
    return parser


def _ask(args: argparse.Namespace) -> int:
    from ._engine import answer, default_engine

    if args.jsonl:
        from .jsonl import serve_jsonl

        if args.text:
            print("hipbot: error: --jsonl reads questions from stdin, not from arguments", file=sys.stderr)
            return 2
        default_engine()  # an unusable corpus is one error line and exit 2, before any line is read
        return serve_jsonl(sys.stdin, sys.stdout, answer, args.max_sessions)
    text = " ".join(args.text)
    reply = answer(text)
    if args.json:
        print(json.dumps(reply.to_json(), ensure_ascii=False))
    else:
        print(reply.text)
        if reply.suggestions:
            print("\nYou could ask: " + " | ".join(reply.suggestions))
    return 0


def _chat(args: argparse.Namespace) -> int:
    from ._engine import answer, default_engine
    from .repl import run_repl

    default_engine()  # load (or, the first time, build) the index before the first prompt
    return run_repl(answer)


def _eval(args: argparse.Namespace) -> int:
    from ._engine import answer
    from .evaluate import compare, evaluate, load_cases, report, report_json

    cases = load_cases(args.file)
    if args.compare:
        print(compare(cases))
        return 0
    scores = evaluate(cases, answer)
    print(report(scores))
    if args.report:
        args.report.write_text(json.dumps(report_json(scores), ensure_ascii=False, indent=1), encoding="utf-8")
    below = [f"{name} {value:.1%} is below {floor:.1%}" for name, value, floor in (
        ("accuracy", scores.accuracy, args.min_accuracy), ("red-flag recall", scores.red_flag_recall, args.min_redflag_recall),
    ) if floor is not None and value < floor]
    for problem in below:
        print(f"hipbot: {problem}", file=sys.stderr)
    return 1 if below else 0


def _telegram(args: argparse.Namespace) -> int:
    from .telegram import run_telegram

    return run_telegram(args)


if __name__ == "__main__":
    raise SystemExit(main())
