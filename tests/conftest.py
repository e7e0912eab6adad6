"""Shared fixtures: one index cache for the run, an isolated environment for every test, the engine."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# One BLAS/OpenMP thread per process, set before numpy loads (here and in every child process, which inherits
# the environment): xdist already runs one worker per core, and a second thread in each worker only contends
# with the other worker. With two threads per worker on two cores, fitting the index's classifiers costs
# about 5x the CPU time (the full index ~35 s instead of ~6 s). A developer's own setting wins.
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

from bot import Engine, Reply, State, default_engine  # noqa: E402 - numpy loads after the thread settings

ROOT = Path(__file__).resolve().parent.parent
# What hipbot reads from the environment: a test sees none of the developer's values, only what it sets.
READ_BY_HIPBOT = ("HIPBOT_", "TELEGRAM_", "XDG_", "PTB_")
TERMINAL = ("COLUMNS", "LINES")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow(seconds): takes that long on two idle cores; runs first (longest first)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, longest first, the rest in their order: a worker that picks up a long test last
    keeps the run going alone. The longest, the wheel build, needs no engine: one worker builds the wheel
    while another builds the engine's index, instead of waiting for it."""

    def seconds(item: pytest.Item) -> float:
        slow = item.get_closest_marker("slow")
        return float(slow.kwargs["seconds"]) if slow else 0.0

    items.sort(key=seconds, reverse=True)  # stable: equal estimates keep their order


@pytest.fixture(scope="session")
def index_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The answer index's cache for the whole run: given by HIPBOT_CACHE_DIR, else one folder that every
    xdist worker of this run shares (their base folders have one parent), so the index is built once."""
    given = os.environ.get("HIPBOT_CACHE_DIR")
    if given:
        return Path(given)
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "hipbot-index-cache"


def _isolate(patch: pytest.MonkeyPatch, cache: Path, home: Path) -> None:
    for name in list(os.environ):
        if name.startswith(READ_BY_HIPBOT) or name in TERMINAL:
            patch.delenv(name)
    patch.setenv("HIPBOT_CACHE_DIR", str(cache))
    patch.setenv("XDG_STATE_HOME", str(home / "state"))  # where a default store or inbox would go
    patch.setenv("XDG_CACHE_HOME", str(home / "cache"))


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, index_cache: Path,
                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test starts from the same environment (undone after it): hipbot's variables unset, the
    shared index cache, and state and cache homes of its own, so nothing lands in the real home."""
    _isolate(monkeypatch, index_cache, tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def engine(index_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The engine over the project's own corpus and intents.yaml (built before any test's own
    environment, so it isolates itself the same way)."""
    with pytest.MonkeyPatch.context() as patch:
        _isolate(patch, index_cache, tmp_path_factory.mktemp("home"))
        return default_engine()


@pytest.fixture
def converse(engine: Engine) -> Callable[..., list[Reply]]:
    """Send messages one after another in one conversation; returns every reply."""

    def run(*messages: str) -> list[Reply]:
        state, replies = State(), []
        for message in messages:
            reply = engine.answer(message, state)
            replies.append(reply)
            state = reply.state
        return replies

    return run


TINY_TOPICS = ("cause.bench_height", "fix.bench_height", "cause.pad_position", "fix.pad_position", "about.muscles",
               "red_flag.general", "red_flag.numbness", "red_flag.emergency", "red_flag.urgent")


@pytest.fixture(scope="session")
def tiny_files() -> dict[str, str]:
    """The tiny project's files (relative path: text), derived from the project's own once per worker:
    parsing the full intents.yaml is the slow part, and every test gets its own copy to change."""
    import yaml

    from bot import load_corpus

    chunks = {c.id: c for c in load_corpus(ROOT / "corpus")}
    sections = "".join(f"## {chunks[t].heading} {{#{t}}}\n\n{chunks[t].text}\n\n" for t in TINY_TOPICS)
    article = f"---\ntitle: Tiny Hip Thrust Notes\nauthor: Test\n---\n# Tiny Hip Thrust Notes\n\n{sections}"
    served = set(TINY_TOPICS)

    def kept(topic: str) -> bool:
        return topic in served or topic.split(".")[0] in ("greeting", "out_of_scope")

    intents = yaml.safe_load((ROOT / "intents.yaml").read_text())
    intents["examples"] = {t: e[:6] for t, e in intents["examples"].items() if kept(t)}
    intents["signs"] = {name: {**sign, "phrases": sign["phrases"][:6]} for name, sign in intents["signs"].items()}
    intents["not_signs"] = intents["not_signs"][:40]  # the sign model's bank, small: each build encodes it
    intents["pairs"] = {c: f for c, f in intents["pairs"].items() if c in served and f in served}
    intents["topics"] = {t: v for t, v in intents["topics"].items() if t in served}
    picture = intents["picture"]
    for block in ("labels", "wrong_labels"):
        picture[block] = {n: v for n, v in picture[block].items() if v["section"] in served}
    picture["offer_after"] = [t for t in picture["offer_after"] if t in served]

    check = yaml.safe_load((ROOT / "check.yaml").read_text())
    check["priors"] = {c: w for c, w in check["priors"].items() if c in served}
    check["evidence"] = {c: p for c, p in check.get("evidence", {}).items() if c in served}
    for question in check["questions"]:
        for choice in question["choices"]:
            choice["weights"] = {c: w for c, w in choice["weights"].items() if c in served}
    return {"corpus/tiny.md": article,
            "intents.yaml": yaml.safe_dump(intents, allow_unicode=True, sort_keys=False),
            "check.yaml": yaml.safe_dump(check, allow_unicode=True, sort_keys=False)}


@pytest.fixture
def tiny_project(tmp_path: Path, tiny_files: dict[str, str]) -> Path:
    """A small copy of the knowledge to change and rebuild in well under a second: nine sections of
    the article, intents.yaml with a few examples per topic, check.yaml for the causes left."""
    for name, text in tiny_files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.fixture
def tiny_engine(tiny_project: Path) -> Callable[[], Engine]:
    """Build (or load from the project's own cache) an Engine over the tiny project."""

    def build() -> Engine:
        return Engine(tiny_project / "corpus", tiny_project / "intents.yaml", cache=tiny_project / "cache",
                      check=tiny_project / "check.yaml")

    return build
