"""The setup picture: a machine hip thrust at the top of the rep, a faulty setup (left) beside the
correct one (right), each labelled with quotes from the article (matplotlib, Agg).

Imported only when a picture is asked for, so start-up time and memory stay as they are.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import WRONG_PREFIX
from ._errors import DataError
from ._index import cache_dir

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Point = tuple[float, float]

SIZE = (16.0, 7.6)  # inches; at DPI the PNG is 1760 x 836 pixels
DPI = 110
FONT = 19
BODY, STEEL, PAD, FLOOR = "#e59866", "#566573", "#1f3a93", "#b3b6b7"


@dataclass(frozen=True)
class Pose:
    """Where one panel's joints and hip pad are, in panel units (12 wide, 10 high, floor at 0.3)."""

    head: Point
    shoulder: Point
    arch: Point  # the torso is a curve from shoulder to hip bent toward this point
    hip: Point
    knee: Point
    ankle: Point
    pad: Point  # centre of the hip pad
    gaze: tuple[Point, Point]  # from the eye to where it looks


@dataclass(frozen=True)
class Panel:
    """One side of the picture: its title, colours, pose and where each label's arrow points."""

    title: str
    accent: str
    tint: str
    pose: Pose
    spots: dict[str, tuple[Point | None, Point, int]]  # label name -> (arrow tip or none, text centre, wrap width)


WRONG = Panel("Wrong", "#c0392b", "#fdf2f1", Pose(
    head=(1.75, 4.2), shoulder=(2.6, 4.0), arch=(4.2, 5.5), hip=(5.7, 4.6), knee=(8.1, 3.95),
    ankle=(10.0, 1.05), pad=(4.2, 5.33), gaze=((1.75, 4.45), (1.68, 7.75))), {
    "gaze": (None, (1.7, 8.5), 12),
    "pad": ((4.3, 5.65), (5.2, 8.5), 17),
    "arch": ((4.0, 4.75), (3.9, 2.2), 16),
    "feet": ((10.5, 1.2), (10.5, 4.0), 11),
})
RIGHT = Panel("Right", "#1e8449", "#eff8f1", Pose(
    head=(1.95, 4.7), shoulder=(2.6, 4.0), arch=(4.15, 4.0), hip=(5.7, 4.0), knee=(8.5, 4.0),
    ankle=(8.5, 1.05), pad=(5.7, 4.47), gaze=((2.15, 4.8), (3.55, 4.65))), {
    "gaze": ((2.1, 5.25), (2.25, 8.7), 18),
    "ribs": ((3.75, 4.25), (4.9, 6.6), 16),
    "pad": ((5.9, 4.75), (8.0, 8.9), 18),
    "spine": ((7.3, 4.05), (10.2, 6.3), 14),
    "shins": ((8.6, 2.6), (10.4, 2.6), 13),
    "bench": ((2.4, 3.75), (2.25, 1.7), 18),
})


@functools.lru_cache(maxsize=4)
def setup_png(labels: tuple[tuple[str, str], ...]) -> bytes:
    """The PNG for these labels, drawn once per process (Telegram sends it from memory)."""
    return draw_setup(dict(labels))


def write_setup_png(path: Path, labels: dict[str, str]) -> None:
    """Write the PNG to `path` (for `hipbot ask --picture`); DataError, one line naming the path,
    when it cannot be written (no such folder, a folder, no permission)."""
    data = setup_png(tuple(sorted(labels.items())))
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
        path.write_bytes(data)
    except OSError as exc:
        raise DataError(str(path), "", f"cannot write the picture ({exc.strerror or type(exc).__name__})") from None


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
    """Draw both panels and return PNG bytes."""
    import io

    figure = setup_figure(labels)
    from matplotlib import pyplot as plt  # after setup_figure has chosen the Agg backend

    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()
    finally:
        plt.close(figure)


def setup_figure(labels: dict[str, str]) -> Figure:
    """The figure: the wrong panel gets the labels named with WRONG_PREFIX, the right panel the rest.
    The caller closes it (pyplot keeps it otherwise)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=SIZE, dpi=DPI)
    figure.subplots_adjust(left=0.008, right=0.992, top=0.915, bottom=0.01, wspace=0.02)
    wrong = {name.removeprefix(WRONG_PREFIX): text for name, text in labels.items() if name.startswith(WRONG_PREFIX)}
    _draw_panel(left, WRONG, wrong)
    _draw_panel(right, RIGHT, {name: text for name, text in labels.items() if not name.startswith(WRONG_PREFIX)})
    return figure


def _draw_panel(axes: Axes, panel: Panel, labels: dict[str, str]) -> None:
    """The machine, the lifter in the panel's pose, and its labels with arrows."""
    import textwrap

    from matplotlib.patches import Circle, Ellipse, FancyBboxPatch, Polygon, Rectangle

    axes.set_xlim(0, 12)
    axes.set_ylim(0, 10)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_facecolor(panel.tint)
    for spine in axes.spines.values():
        spine.set(color=panel.accent, linewidth=4)
    axes.set_title(panel.title, color=panel.accent, fontsize=30, weight="bold")
    pose = panel.pose

    # The machine: floor, base frame, back pad on its post, foot plate, lever arm holding the hip pad.
    axes.add_patch(Rectangle((0, 0), 12, 0.3, color=FLOOR))
    axes.add_patch(Rectangle((0.7, 0.3), 10.6, 0.22, color=STEEL))
    axes.add_patch(Rectangle((1.25, 0.5), 0.38, 2.8, color=STEEL))
    axes.add_patch(FancyBboxPatch((0.55, 3.3), 2.05, 0.42, boxstyle="round,pad=0.06", color=PAD))
    axes.add_patch(Rectangle((7.3, 0.52), 3.9, 0.3, color=STEEL))
    pivot = (7.4, 0.8)
    axes.plot(*zip(pivot, pose.pad), color=STEEL, linewidth=12, solid_capstyle="round", zorder=1)
    axes.add_patch(Circle(pivot, 0.22, color=PAD, zorder=2))

    # The lifter: torso as a curve with rib cage and pelvis on it, limbs as segments, joints as circles.
    curve = [_bezier(pose.shoulder, pose.arch, pose.hip, t / 20) for t in range(21)]
    limb: dict[str, Any] = dict(color=BODY, linewidth=18, solid_capstyle="round", solid_joinstyle="round", zorder=3)
    axes.plot(*zip(*curve), **limb)
    axes.plot(*zip(pose.hip, pose.knee, pose.ankle), **limb)
    axes.plot(*zip(pose.ankle, (pose.ankle[0] + 0.8, 0.95)), **{**limb, "linewidth": 14})
    neck = (pose.shoulder[0] * 0.5 + pose.head[0] * 0.5, pose.shoulder[1] * 0.5 + pose.head[1] * 0.5)
    axes.plot(*zip(pose.shoulder, neck), **{**limb, "linewidth": 12})
    axes.add_patch(Circle(pose.head, 0.45, facecolor=BODY, edgecolor="#784212", linewidth=2, zorder=4))
    (eye_x, eye_y), (to_x, to_y) = pose.gaze
    heading = math.atan2(to_y - eye_y, to_x - eye_x)
    nose_tip = (pose.head[0] + 0.72 * math.cos(heading), pose.head[1] + 0.72 * math.sin(heading))
    side_x, side_y = 0.3 * math.sin(heading), -0.3 * math.cos(heading)
    nose = [(pose.head[0] + side_x, pose.head[1] + side_y), nose_tip, (pose.head[0] - side_x, pose.head[1] - side_y)]
    axes.add_patch(Polygon(nose, closed=True, facecolor=BODY, edgecolor="#784212", linewidth=2, zorder=3.5))
    axes.add_patch(Circle(pose.gaze[0], 0.07, color="black", zorder=5))
    for t, (width, height) in ((0.22, (1.35, 0.66)), (0.88, (0.95, 0.52))):  # rib cage, pelvis
        centre = _bezier(pose.shoulder, pose.arch, pose.hip, t)
        slope = _angle(_bezier(pose.shoulder, pose.arch, pose.hip, t + 0.1), centre)
        axes.add_patch(Ellipse(centre, width, height, angle=slope, facecolor="#fae5d3", edgecolor="#784212",
                               linewidth=2, zorder=4))
    for joint in (pose.shoulder, pose.hip, pose.knee, pose.ankle):
        axes.add_patch(Circle(joint, 0.15, facecolor="white", edgecolor="#784212", linewidth=2.5, zorder=5))
    axes.add_patch(FancyBboxPatch((pose.pad[0] - 0.5, pose.pad[1] - 0.2), 1.0, 0.4, boxstyle="round,pad=0.08",
                                  facecolor=PAD, edgecolor="black", linewidth=1.5, zorder=6))
    axes.plot(*zip(pose.shoulder, pose.knee), color="#7f8c8d", linewidth=2, linestyle="--", zorder=2)
    axes.annotate("", xy=pose.gaze[1], xytext=pose.gaze[0], zorder=6, arrowprops=dict(
        arrowstyle="-|>", linestyle=":", color=panel.accent, linewidth=3, mutation_scale=22, shrinkA=4, shrinkB=0))

    for row, (name, text) in enumerate(labels.items()):
        tip, where, width = panel.spots.get(name, (None, (6.0, 9.4 - 0.7 * row), 40))
        axes.annotate(
            textwrap.fill(text, width, break_long_words=False), xy=tip or where, xytext=where, fontsize=FONT,
            ha="center", va="center", zorder=7, linespacing=1.15,
            bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor=panel.accent, linewidth=2),
            arrowprops=None if tip is None else dict(arrowstyle="-|>", color=panel.accent, linewidth=2.5,
                                                     mutation_scale=22, shrinkA=0, shrinkB=2),
        )


def _bezier(start: Point, control: Point, end: Point, t: float) -> Point:
    """A point on the quadratic curve from start to end bent toward control."""
    def along(a: float, b: float, c: float) -> float:
        return (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t * t * c

    return along(start[0], control[0], end[0]), along(start[1], control[1], end[1])


def _angle(towards: Point, centre: Point) -> float:
    """The angle in degrees of the line from centre to towards (for an ellipse along the torso)."""
    return math.degrees(math.atan2(towards[1] - centre[1], towards[0] - centre[0]))
