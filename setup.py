"""Build hook: the wheel carries the knowledge files and an index already built for them,
so an installed hipbot answers its first question without a build. The repository's top-level
corpus/, intents.yaml and check.yaml stay the source of truth; an editable install reads them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithKnowledge(build_py):
    """build_py, then copy the knowledge into bot/knowledge/ and build its index there."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's files, so edits take effect
        target = Path(self.build_lib) / "bot" / "knowledge"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "corpus", target / "corpus")
        for name in ("intents.yaml", "check.yaml"):
            shutil.copy2(ROOT / name, target / name)
        sys.path.insert(0, self.build_lib)
        from bot._engine import Engine  # the package being built, not an installed one

        Engine(target / "corpus", target / "intents.yaml", cache=target, check=target / "check.yaml")
        for lock in target.glob(".index-*.lock"):
            lock.unlink()


setup(cmdclass={"build_py": BuildWithKnowledge})
