"""Where hipbot's knowledge is: the files named by environment variables, the checkout
(an editable install reads the repository, so edits take effect), or the copy that the
wheel carries inside the package (with the index built at package build time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "knowledge"  # filled by the wheel build (setup.py)
CHECKOUT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Knowledge:
    """The corpus folder, intents.yaml and check.yaml to load."""

    corpus: Path
    intents: Path
    check: Path


def knowledge_paths() -> Knowledge:
    """$HIPBOT_CORPUS, $HIPBOT_INTENTS and $HIPBOT_CHECK win; then the checkout; then the package."""
    in_checkout = (CHECKOUT / "intents.yaml").is_file() and (CHECKOUT / "corpus").is_dir()
    base = CHECKOUT if in_checkout else PACKAGED
    return Knowledge(
        corpus=Path(os.environ.get("HIPBOT_CORPUS") or base / "corpus"),
        intents=Path(os.environ.get("HIPBOT_INTENTS") or base / "intents.yaml"),
        check=Path(os.environ.get("HIPBOT_CHECK") or base / "check.yaml"),
    )


def state_file(name: str) -> Path:
    """A file of hipbot's own state: $XDG_STATE_HOME/hipbot/NAME, by default ~/.local/state/hipbot/NAME."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "hipbot" / name
