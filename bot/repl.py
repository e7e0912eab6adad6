"""`hipbot chat`: a terminal conversation with line editing and in-memory history."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import IO

from ._explain import Explanation
from ._model import Answer, State

Explain = Callable[[str, State | None], Explanation]

HELP = """Ask about back pain on the hip thrust (machine) in your own words, e.g.
  why does my lower back hurt on hip thrusts?
  how should I set the bench?
  my leg tingles after thrusts
Commands: /check (a guided check of your setup)  /diagram (a picture of a correct setup)
          /why (what lay behind the last answer)  /help  /reset (forget the conversation)  /quit (or Ctrl-D)
Type a number to ask one of the suggested follow-ups.
hipbot answers from one article; it is not medical advice."""


def run_repl(answer: Answer, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
             explain: Explain | None = None) -> int:
    """Read messages until /quit or end of input; suggestions can be picked by number;
    /why shows `explain` for the last message."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    interactive = stdin.isatty() and stdout.isatty()
    lines = _prompt_toolkit_lines() if interactive else _plain_lines(stdin)
    state = State()
    suggestions: tuple[str, ...] = ()
    last: tuple[str, State] | None = None  # the last message and the state it was answered in, for /why
    print("hipbot: back pain on the hip thrust machine, from one expert article. /help for help.", file=stdout)
    for line in lines:
        text = line.strip()
        if text in ("/quit", "/exit"):
            break
        if text == "/help":
            print(HELP, file=stdout)
            continue
        if text == "/why":
            print(_why(explain, last), file=stdout)
            continue
        if text == "/reset":
            state, suggestions, last = State(), (), None
            print("(conversation forgotten)", file=stdout)
            continue
        if text.isdigit() and 1 <= int(text) <= len(suggestions):
            text = suggestions[int(text) - 1]
            print(f"> {text}", file=stdout)
        reply = answer(text, state)
        last = (text, state)
        state, suggestions = reply.state, reply.suggestions
        print(f"\n{reply.text}\n", file=stdout)
        if reply.picture:
            from .picture import setup_picture

            print(f"(picture saved to {setup_picture(dict(reply.picture))})\n", file=stdout)
        if reply.intent != "check":  # a check question already numbers its choices
            for n, suggestion in enumerate(suggestions, start=1):
                print(f"  [{n}] {suggestion}", file=stdout)
        stdout.flush()
    print("Bye! Form over load.", file=stdout)
    return 0


def _why(explain: Explain | None, last: tuple[str, State] | None) -> str:
    if explain is None:
        return "(/why is not available here)"
    if last is None:
        return "(ask something first: /why explains the last answer)"
    return explain(*last).render()


def _plain_lines(stdin: IO[str]) -> Iterator[str]:
    yield from stdin


def _prompt_toolkit_lines() -> Iterator[str]:
    """Lines typed at a prompt with editing and (in-memory only: messages are health data) history."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import InMemoryHistory

    session: PromptSession[str] = PromptSession(history=InMemoryHistory())
    while True:
        try:
            yield session.prompt("you> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
