"""`hipbot ask --jsonl`: JSON lines in, one JSON reply per line out, sessions keep state."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import IO

from ._model import Answer, State

MAX_LINE_CHARS = 1_000_000
MAX_SESSION_CHARS = 200
MAX_SESSIONS = 10_000  # live sessions kept; the least recently used one is forgotten beyond this


def serve_jsonl(source: IO[str], sink: IO[str], answer: Answer, max_sessions: int = MAX_SESSIONS) -> int:
    """Answer each line in order, flushing every reply; 0 if all lines were valid, else 1.
    At most `max_sessions` conversations are remembered (least recently used forgotten first)."""
    sessions: OrderedDict[str, State] = OrderedDict()
    failed = False
    for number, line in enumerate(source, start=1):
        try:
            result = _handle(line, number, sessions, answer)
            while len(sessions) > max_sessions:
                sessions.popitem(last=False)
        except Exception as exc:  # noqa: BLE001 - one bad line must not end the stream
            result = {"error": f"could not answer this line ({type(exc).__name__})", "line": number}
        failed = failed or "error" in result
        sink.write(json.dumps(result, ensure_ascii=False) + "\n")
        sink.flush()
    return 1 if failed else 0


def _handle(line: str, number: int, sessions: OrderedDict[str, State], answer: Answer) -> dict[str, object]:
    if len(line) > MAX_LINE_CHARS:
        return {"error": f"line longer than {MAX_LINE_CHARS} characters", "line": number}
    if not line.strip():
        return {"error": "blank line", "line": number}
    if not _encodable(line):  # bytes that are not UTF-8 arrive as lone surrogates (see the cli)
        return {"error": "not UTF-8 text", "line": number}
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"error": f"invalid JSON: {exc.msg}", "line": number}
    except ValueError:  # e.g. a number too long to convert
        return {"error": "invalid JSON", "line": number}
    if not isinstance(request, dict) or not isinstance(request.get("text"), str):
        return {"error": "expected an object with a string \"text\"", "line": number}
    if not _encodable(request["text"]):
        return {"error": "\"text\" is not valid Unicode (a lone surrogate)", "line": number}
    session = request.get("session")
    if session is not None and (isinstance(session, bool) or not isinstance(session, (str, int))
                                or not _encodable(session)):
        return {"error": "\"session\" must be a string or a whole number", "line": number}
    if session is not None and len(str(session)) > MAX_SESSION_CHARS:
        return {"error": f"\"session\" longer than {MAX_SESSION_CHARS} characters", "line": number}
    key = None if session is None else json.dumps(session)  # 1 and "1" are different sessions
    reply = answer(request["text"], sessions.get(key) if key is not None else None)
    if key is not None:
        sessions[key] = reply.state
        sessions.move_to_end(key)
    result = reply.to_json()
    if key is not None:
        result["session"] = session
    return result


def _encodable(value: object) -> bool:
    """Whether a value can be written back as UTF-8 (lone surrogates cannot)."""
    try:
        str(value).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
