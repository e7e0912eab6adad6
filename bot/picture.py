"""The setup picture: a labelled side view of a correct machine hip thrust (matplotlib, Agg).

Imported only when a picture is asked for, so start-up time and memory stay as they are.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

from ._index import cache_dir


@functools.lru_cache(maxsize=4)
def setup_png(labels: tuple[tuple[str, str], ...]) -> bytes:
    """The PNG for these labels, drawn once per process (Telegram sends it from memory)."""
    return draw_setup(dict(labels))


def setup_picture(labels: dict[str, str], folder: Path | None = None) -> Path:
    """A file holding the PNG (for the REPL): in the user's cache folder, else in a fresh
    private temporary folder. Never a predictable shared path, and never through a symlink."""
    ordered = tuple(sorted(labels.items()))
    place = folder or cache_dir()
    target = place / f"setup-{hashlib.sha256(repr(ordered).encode()).hexdigest()[:16]}.png"
    if target.is_file() and not target.is_symlink():
        return target
    try:
        place.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".setup-", suffix=".png", dir=place)
        with os.fdopen(handle, "wb") as stream:
            stream.write(setup_png(ordered))
        os.replace(temporary, target)  # replaces a planted link itself, never what it points to
        return target
    except OSError:
        private = Path(tempfile.mkdtemp(prefix="hipbot-"))  # 0700, a name nobody can guess
        (private / "setup.png").write_bytes(setup_png(ordered))
        return private / "setup.png"


def draw_setup(labels: dict[str, str]) -> bytes:
    """Draw the side view and return PNG bytes."""
    import io
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

    figure, axes = plt.subplots(figsize=(10, 6.2), dpi=110)
    try:
        axes.set_xlim(0, 12)
        axes.set_ylim(0, 7.4)
        axes.set_aspect("equal")
        axes.axis("off")
        axes.set_title("Machine hip thrust: top of the rep", fontsize=14, weight="bold")
        axes.add_patch(Rectangle((0, 0), 12, 0.25, color="#9e9e9e"))  # floor
        axes.add_patch(Rectangle((0.6, 0.25), 1.7, 2.95, color="#5d6d7e"))  # bench / back pad
        shoulder, hip, knee, foot = (2.2, 3.45), (5.6, 3.45), (8.2, 3.45), (8.2, 0.45)
        body = dict(color="#e67e22", linewidth=9, solid_capstyle="round")
        axes.plot(*zip(shoulder, hip), **body)  # torso: straight, hips level with knees and shoulders
        axes.plot(*zip(hip, knee), **body)  # thighs
        axes.plot(*zip(knee, foot), **body)  # shins vertical
        axes.plot([foot[0] - 0.2, foot[0] + 0.55], [0.35, 0.35], color="#e67e22", linewidth=7, solid_capstyle="round")
        axes.add_patch(Circle((1.55, 3.95), 0.5, color="#e67e22"))  # head, chin tucked toward the chest
        axes.add_patch(FancyBboxPatch((5.15, 3.72), 0.9, 0.42, boxstyle="round,pad=0.06", color="#2e86c1"))  # pad
        spots = {
            "bench": ((2.1, 3.25), (2.3, 5.3)), "gaze": ((1.3, 4.3), (0.0, 6.6)),
            "pad": ((5.6, 4.15), (4.9, 6.5)), "ribs": ((3.9, 3.6), (2.6, 1.6)),
            "spine": ((6.9, 3.5), (7.3, 5.5)), "shins": ((8.25, 1.8), (9.0, 2.8)),
        }
        for name, text in labels.items():
            point, where = spots.get(name, ((6.0, 3.5), (9.0, 6.5)))
            axes.annotate(
                textwrap.fill(text, 30), xy=point, xytext=where, fontsize=9,
                arrowprops=dict(arrowstyle="->", color="#34495e"),
                bbox=dict(boxstyle="round", facecolor="#fdfefe", edgecolor="#aab7b8"),
            )
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(figure)
