"""The wheel carries the knowledge and a ready index: it answers from any folder, with no build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow(seconds=25)  # building the wheel builds its index


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project built as a wheel by setup.py, as `pip install .` builds it. The build runs in this
    environment (the test extras bring a recent setuptools; isolation would only add installing the
    build requirements, which CI's own install of the project already does)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)],
                   check=True, capture_output=True, timeout=900)
    return next(out.glob("hipbot-*.whl"))


def test_the_wheel_carries_the_knowledge_and_its_index(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/knowledge/intents.yaml" in names and "bot/knowledge/check.yaml" in names
    assert {"bot/knowledge/corpus/hip-thrust-machine-back-pain.md",
            "bot/knowledge/corpus/red-flag-guidance.md"} <= set(names)
    assert any(n.startswith("bot/knowledge/index-") and n.endswith(".npz") for n in names)
    assert not any(n.endswith(".lock") for n in names)


def test_the_installed_wheel_answers_from_another_folder_without_building(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere, cache = tmp_path / "elsewhere", tmp_path / "empty-cache"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "HIPBOT_CACHE_DIR": str(cache)}
    for name in ("HIPBOT_CORPUS", "HIPBOT_INTENTS", "HIPBOT_CHECK"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--json", "where should the pad sit?"],
                            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["topic"] == "fix.pad_position"
    assert "Building" not in result.stderr  # the shipped index was used
    assert not cache.exists()
    where_code = "import bot, bot._knowledge as k; print(bot.__file__, k.knowledge_paths().intents)"
    where = subprocess.run([sys.executable, "-c", where_code],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout
    assert str(site) in where and str(ROOT) not in where
