"""`hipbot chat` driven through its input (tests/_drivers.py) and through a pseudo-terminal."""

from __future__ import annotations

import os
import select
import sys
import time
from pathlib import Path

import pytest

from _drivers import chat

ROOT = Path(__file__).resolve().parent.parent


def test_follow_up_by_number_and_reset():
    output = chat("why does my back hurt when my feet are far out?\n1\n/reset\n1\n/quit\nnever read\n")
    assert "shift the emphasis" in output
    assert "> How do I fix it?" in output
    assert "perpendicular" in output
    assert "(conversation forgotten)" in output
    assert output.count("> How do I fix it?") == 1  # after /reset "1" is just text
    assert "never read" not in output and "Bye!" in output


def test_help_and_end_of_input():
    output = chat("/help\n")
    assert "/reset" in output and "not medical advice" in output.lower()
    assert output.rstrip().endswith("Bye! Form over load.")
    assert chat("").rstrip().endswith("Bye! Form over load.")  # no input at all: the banner, then goodbye


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_pseudo_terminal_session_with_line_editing_and_ctrl_d():
    import fcntl
    import pty
    import re
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # child: the real REPL on a terminal
        os.chdir(ROOT)
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        os.execve(sys.executable, [sys.executable, "-m", "bot.cli", "chat"], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 80 columns
    screen = _read_until(fd, b"you>")
    os.write(fd, b"how should I set the bench hieght\x7f\x7f\x7f\x7f\x7fheight?\r")  # backspaces edit the line
    screen += _read_until(fd, b"blades")
    screen += _read_until(fd, b"you>")
    os.write(fd, b"\r")  # an empty line does nothing
    os.write(fd, b"why does my lower back hurt on hip thrusts\r")
    screen += _read_until(fd, b"From")
    screen += _read_until(fd, b"you>")
    os.write(fd, b"\x04")  # Ctrl-D
    screen += _read_until(fd, b"Bye!")
    _, status = os.waitpid(pid, 0)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    assert "upper back (just below the shoulder" in text and "prevalent cause" in text
    printed = [line for line in text.replace("\r", "").split("\n") if "you>" not in line]
    assert max(len(line) for line in printed) <= 80  # wrapped to the terminal, at word boundaries
    assert "  • Arching your lower back: the most prevalent cause" in text
    assert os.WEXITSTATUS(status) == 0


def _read_until(fd: int, marker: bytes, timeout: float = 60.0) -> bytes:
    """Read the terminal until `marker` shows, answering cursor-position requests like a terminal."""
    data, deadline = b"", time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        if not select.select([fd], [], [], 0.2)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        if b"\x1b[6n" in chunk:
            os.write(fd, b"\x1b[1;1R")
        data += chunk
    assert marker in data, data[-500:]
    return data


def test_check_and_diagram_in_the_repl():
    output = chat("/check\n2\n1\n/diagram\n1\n")
    assert "safety check" in output and "2. No, none of these" in output
    assert "> No, none of these" in output and "> Low back, mostly at the top of the rep" in output
    saved = output.split("(picture saved to ")[1].split(")")[0]
    assert Path(saved).read_bytes().startswith(b"\x89PNG")
    assert output.count("> Shins vertical, feet hip-width apart") == 1  # the check went on after the picture


def test_the_picture_is_never_written_through_a_planted_link(tmp_path):
    from bot.picture import setup_picture

    secret = tmp_path / "secret.txt"
    secret.write_text("keep me")
    folder = tmp_path / "cache"
    folder.mkdir()
    labels = {"pad": "Pad sits directly in your hip crease"}
    import hashlib

    key = hashlib.sha256(repr(tuple(sorted(labels.items()))).encode()).hexdigest()[:16]
    (folder / f"setup-{key}.png").symlink_to(secret)
    path = setup_picture(labels, folder)
    assert secret.read_text() == "keep me" and not path.is_symlink()
    assert path.read_bytes().startswith(b"\x89PNG")


def test_the_picture_falls_back_to_a_private_temporary_folder(tmp_path):
    import stat

    from bot.picture import setup_picture

    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    path = setup_picture({"pad": "Pad sits directly in your hip crease"}, blocked / "cache")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 and path.parent.name.startswith("hipbot-")
