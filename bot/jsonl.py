"""`hipbot ask --jsonl`: JSON lines in, one JSON reply per line out, sessions keep state."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO

from ._model import Reply, State

MAX_LINE_BYTES = 1_000_000

Answer = Callable[[str, State | None], Reply]


def serve_jsonl(source: IO[str], sink: IO[str], answer: Answer) -> int:
    """Answer each line in order, flushing every reply; 0 if all lines were valid, else 1."""
    sessions: dict[str, State] = {}
    failed = False
    for number, line in enumerate(source, start=1):
        result = _handle(line, number, sessions, answer)
        failed = failed or "error" in result
        sink.write(json.dumps(result, ensure_ascii=False) + "\n")
        sink.flush()
    return 1 if failed else 0


def _handle(line: str, number: int, sessions: dict[str, State], answer: Answer) -> dict:
    if len(line) > MAX_LINE_BYTES:
        return {"error": f"line longer than {MAX_LINE_BYTES} characters", "line": number}
    if not line.strip():
        return {"error": "blank line", "line": number}
    try:
        request = json.loads(line)
    except ValueError as exc:
        return {"error": f"invalid JSON: {exc.msg}", "line": number}
    if not isinstance(request, dict) or not isinstance(request.get("text"), str):
        return {"error": "expected an object with a string \"text\"", "line": number}
    session = request.get("session")
    if session is not None and not isinstance(session, (str, int)):
        return {"error": "\"session\" must be a string or a number", "line": number}
    key = None if session is None else str(session)
    reply = answer(request["text"], sessions.get(key) if key is not None else None)
    if key is not None:
        sessions[key] = reply.state
    result = reply.to_json()
    if key is not None:
        result["session"] = session
    return result
