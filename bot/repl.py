"""`hipbot chat`: a terminal conversation with line editing, wrapped output and in-memory history."""

from __future__ import annotations

import shutil
import sys
import textwrap
import unicodedata
from collections.abc import Callable, Iterator
from typing import IO

from ._config import Copy
from ._explain import Explanation
from ._model import Answer, State

Explain = Callable[[str, State | None], Explanation]
COMMANDS = ("/check", "/diagram", "/about", "/why", "/help", "/reset", "/quit")
CORE_COMMANDS = ("/check", "/diagram", "/about")  # the core answers these itself


def run_repl(answer: Answer, copy: Copy, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
             explain: Explain | None = None) -> int:
    """Read messages until /quit or end of input. Suggestions can be picked by number; /why shows
    `explain` for the last message; `copy` holds the texts shared with Telegram (banner, help)."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    interactive = stdin.isatty() and stdout.isatty()
    lines = _prompt_toolkit_lines() if interactive else _plain_lines(stdin)
    state = State()
    suggestions: tuple[str, ...] = ()
    last: tuple[str, State] | None = None  # the last message and the state it was answered in, for /why

    def show(text: str) -> None:
        print(wrap(text, _width()), file=stdout, flush=True)

    show(copy.banner)
    for line in lines:
        text = line.strip()
        command = text.split()[0].lower() if text.startswith("/") else ""
        if not text:
            continue
        if command in ("/quit", "/exit"):
            break
        if command == "/help":
            show(f"{copy.help}\n\n{copy.help_terminal}")
            continue
        if command == "/why":
            show(_why(explain, last))
            continue
        if command == "/reset":
            state, suggestions, last = State(), (), None
            show("(conversation forgotten)")
            continue
        if command and command not in CORE_COMMANDS:
            show(f"I don't know {command}. Commands: {' '.join(COMMANDS)}")
            continue
        if text.isdigit():
            if not 1 <= int(text) <= len(suggestions):
                show(f"There is no suggestion {text}." + (f" Pick 1 to {len(suggestions)}, or type a question."
                                                           if suggestions else " Type a question."))
                continue
            text = suggestions[int(text) - 1]
            show(f"> {text}")
        reply = answer(text, state)
        last = (text, state)
        state, suggestions = reply.state, reply.suggestions
        show(f"\n{reply.text}\n")
        if reply.picture:
            from .picture import setup_picture

            print(f"(picture saved to {setup_picture(dict(reply.picture))})\n", file=stdout)  # a path is not wrapped
        if reply.intent != "check":  # a check question already numbers its choices
            show("\n".join(f"[{n}] {suggestion}" for n, suggestion in enumerate(suggestions, start=1)))
    show("Bye! Form over load.")
    return 0


def wrap(text: str, width: int) -> str:
    """`text` wrapped at word boundaries to `width` columns; bullets, numbered choices and
    suggestions get a hanging indent; blank lines are kept."""
    out = []
    for line in text.split("\n"):
        marker = _marker(line)
        room = width - sum(_is_wide(char) for char in line)  # an emoji takes two columns
        if not line.strip():
            out.append("")
        elif marker:
            out.append(textwrap.fill(line[len(marker):].strip(), room, initial_indent="  " + marker,
                                     subsequent_indent=" " * (len(marker) + 2), break_on_hyphens=False))
        else:
            out.append(textwrap.fill(line, room, break_on_hyphens=False))
    return "\n".join(out)


def _is_wide(char: str) -> bool:
    """Whether a terminal shows `char` two columns wide (emoji such as 📖, ⚠️ and 🚨, East Asian wide)."""
    return ord(char) >= 0x1F000 or 0x2600 <= ord(char) <= 0x27BF or unicodedata.east_asian_width(char) in "WF"


def _marker(line: str) -> str:
    """A list marker that starts `line` ("• ", "- ", "1. ", "[1] "), or ""."""
    head = line.split(" ", 1)[0]
    numbered = head[:-1].isdigit() and head.endswith(".")
    if head in ("•", "-") or numbered or (head.startswith("[") and head.endswith("]")):
        return head + " "
    return ""


def _width() -> int:
    """The terminal's width ($COLUMNS wins), at most 100 columns for readability."""
    return max(20, min(100, shutil.get_terminal_size((80, 24)).columns))


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
