"""Corpus and intents loading: chunks, one-line errors, and the index cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from _fake_encoder import HashingEncoder
from bot import DataError, Engine, default_engine, load_config, load_corpus, parse_article
from bot._index import load_cached

ROOT = Path(__file__).resolve().parent.parent


def test_every_section_of_the_article_is_an_addressable_chunk():
    chunks = load_corpus(ROOT / "corpus")
    ids = [c.id for c in chunks]
    assert len(ids) == len(set(ids))
    kinds = {c.kind for c in chunks}
    assert kinds == {"about", "cause", "fix", "red_flag", "faq"}
    assert sum(c.kind == "cause" for c in chunks) == 11
    assert sum(c.kind == "faq" for c in chunks) == 4
    bench = next(c for c in chunks if c.id == "fix.bench_height")
    assert bench.path == ("Corrective Strategies and Proper Technique", "Optimize Your Setup", "Bench Height")
    assert "shoulder blades" in bench.text
    documents = {c.id: c.document for c in chunks}
    assert all(d.startswith("Hip Thrust Machine") for i, d in documents.items() if i not in SAFETY_SECTIONS)
    assert {documents[i] for i in SAFETY_SECTIONS} == {"When back pain needs urgent care"}


SAFETY_SECTIONS = ("red_flag.emergency", "red_flag.urgent")  # the clinical guidance, a second document


def test_headings_without_ids_get_ids_from_their_parent_kind():
    chunks = parse_article("# T\n\n## Causes {#cause.general}\n\nSome.\n\n### Tight Calves\n\nText.\n", "x.md")
    assert [c.id for c in chunks] == ["cause.general", "cause.tight_calves"]


@pytest.mark.parametrize(("markdown", "problem"), [
    ("just text, no headings\n", "x.md: no sections found"),
    ("---\ntitle: [\n---\n## A\n\nb\n", "x.md: front matter: invalid YAML"),
    ("## A {#bogus.kind}\n\ntext\n", "x.md: line 1: id 'bogus.kind' must start with one of"),
    ("## A {#fix.a colour=red}\n\ntext\n", "x.md: line 1: unknown heading attribute 'colour'"),
])
def test_corpus_errors_name_file_place_and_problem(markdown, problem):
    with pytest.raises(DataError) as error:
        parse_article(markdown, "x.md")
    assert str(error.value).startswith(problem)


def test_empty_corpus_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no Markdown"):
        load_corpus(tmp_path)


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda s: s.replace("version: 1", "version: 1\ncolour: red"), "colour: unknown key"),
    (lambda s: s.replace("examples:\n", "examples:\n  cause.general:\n    - \"x\"\n", 1),
     "duplicate key 'cause.general'"),
    (lambda s: s.replace("      - '\\bsciatic", "      - '(unclosed", 1),
     "red_flags.red_flag.radiating.patterns[0]: bad pattern"),
    (lambda s: s.replace("  min_confidence: 0.15", "  min_confidence: high"), "routing.min_confidence: expected"),
    (lambda s: s.replace("examples:\n", "examples:\n  recipes.cake:\n    - \"x\"\n"),
     "examples.recipes.cake: topic must start with"),
])
def test_intents_errors_name_file_place_and_problem(tmp_path, edit, problem):
    bad = tmp_path / "intents.yaml"
    text = (ROOT / "intents.yaml").read_text()
    changed = edit(text)
    assert changed != text
    bad.write_text(changed)
    with pytest.raises(DataError) as error:
        load_config(bad)
    assert str(error.value).startswith(f"{bad}: ")
    assert problem in str(error.value)


def test_example_topic_no_section_serves_is_an_error(tmp_path):
    bad = tmp_path / "intents.yaml"
    text = (ROOT / "intents.yaml").read_text()
    bad.write_text(text.replace("examples:\n", "examples:\n  fix.cold_plunge:\n    - \"x\"\n"))
    with pytest.raises(DataError, match="examples.fix.cold_plunge: no corpus section serves this topic"):
        Engine(ROOT / "corpus", bad, cache=tmp_path / "cache")


@pytest.fixture
def project(tiny_project: Path) -> Path:
    """A small copy of the knowledge to change (tests/conftest.py), so each build takes a moment."""
    return tiny_project


def _engine(project: Path, cache: Path | None = None) -> Engine:
    """The tiny project's engine with the hashing stand-in for the encoder: these tests are about
    loading, caching and rebuilding, not understanding."""
    return Engine(project / "corpus", project / "intents.yaml", cache=cache or project / "cache",
                  check=project / "check.yaml", encoder=HashingEncoder())


def test_a_new_article_is_picked_up_without_code_changes(project):
    (project / "corpus" / "kickbacks.md").write_text(
        "---\ntitle: Cable Kickbacks\n---\n# Cable Kickbacks\n\n## Leaning Into the Cable {#cause.kickback_lean}\n\n"
        "Leaning the torso toward the cable stack while kicking back turns the kickback into a lower back extension.\n"
    )
    reply = _engine(project).answer("why does leaning toward the cable stack on kickbacks strain my lower back?")
    assert reply.topic == "cause.kickback_lean"
    assert "turns the kickback into a lower back extension" in reply.text
    assert "Cable Kickbacks" in reply.text
    assert reply.topic in _engine(project).topics()  # an eval set may name it


def test_cache_is_reused_then_rebuilt_when_the_corpus_changes(project):
    _engine(project)
    cached = sorted((project / "cache").glob("index-*.npz"))
    assert len(cached) == 1
    _engine(project)
    assert sorted((project / "cache").glob("index-*.npz")) == cached
    article = project / "corpus" / "tiny.md"
    article.write_text(article.read_text().replace("a yoga mat rolled up", "a yoga mat (or a folded towel) rolled up"))
    engine = _engine(project)
    assert len(list((project / "cache").glob("index-*.npz"))) == 2
    assert "a folded towel" in engine.answer("the pad hurts my hips, how do I cushion it?").text


def test_intents_change_rebuilds_the_cache(project):
    _engine(project)
    intents = project / "intents.yaml"
    intents.write_text(intents.read_text().replace("Take care, and remember", "Take care, and always remember"))
    _engine(project)
    assert len(list((project / "cache").glob("index-*.npz"))) == 2


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(b"not a zip at all"),
    lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    lambda p: p.write_bytes(b""),
])
def test_corrupt_cache_is_rebuilt(project, damage):
    first = _engine(project)
    (path,) = (project / "cache").glob("index-*.npz")
    damage(path)
    again = _engine(project)
    assert again.answer("how should I set the bench?").topic == first.answer("how should I set the bench?").topic
    assert load_cached(path.stem.removeprefix("index-"), project / "cache") is not None


NOBODY = 65534


def test_read_only_cache_folder_is_bypassed(project):
    """A cache folder the user may not write to: the index is built in memory, answers all the same, and
    nothing is written. The engine runs in a child process, as `nobody` when the tests run as root (root
    writes anywhere), so the folder's permissions apply to it either way."""
    import subprocess
    import sys
    import tempfile

    place = Path(tempfile.mkdtemp(prefix="hipbot-read-only-"))
    try:
        place.chmod(0o755)  # the copy must be readable by the child, whoever it runs as
        copy = place / "project"
        for name in ("corpus", "intents.yaml", "check.yaml"):
            source = project / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / name if source.is_dir() else copy)
        cache = place / "cache"
        cache.mkdir()
        as_nobody: list[str] = []
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")  # util-linux
            if setpriv is None:
                pytest.skip("running as root, and setpriv is missing to run the engine as nobody")
            os.chown(cache, NOBODY, NOBODY)
            as_nobody = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        cache.chmod(0o500)
        code = ("import sys; from pathlib import Path; from bot import Engine; p, c = map(Path, sys.argv[1:]); "
                "print(Engine(p / 'corpus', p / 'intents.yaml', cache=c, check=p / 'check.yaml').answer('hi').intent)")
        result = subprocess.run([*as_nobody, sys.executable, "-c", code, str(copy), str(cache)], capture_output=True,
                                text=True, cwd=place, timeout=300)
        assert result.stdout.strip() == "greeting", result.stderr
        assert list(cache.iterdir()) == []
    finally:
        (place / "cache").chmod(0o700)
        shutil.rmtree(place)


def test_unwritable_cache_path_is_bypassed(project):
    blocker = project / "cache"
    blocker.write_text("a file where the cache folder should be")
    assert _engine(project).answer("hi").intent == "greeting"


def test_cache_of_an_older_format_is_rebuilt(project):
    import numpy as np

    _engine(project)
    (path,) = (project / "cache").glob("index-*.npz")
    with np.load(path) as data:
        old = {name: data[name] for name in data.files}
    np.savez(path, **{**old, "format": np.array(0)})
    key = path.stem.removeprefix("index-")
    assert load_cached(key, project / "cache") is None
    assert _engine(project).answer("where should the pad sit?").topic == "fix.pad_position"
    assert load_cached(key, project / "cache") is not None


@pytest.mark.slow(seconds=4)
def test_two_processes_building_the_cache_at_once_leave_a_valid_file(project):
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from bot import Engine; p = Path(sys.argv[1]); "
        "e = Engine(p / 'corpus', p / 'intents.yaml', cache=p / 'cache', check=p / 'check.yaml'); "
        "print(e.answer('how high should the bench be?').topic)"
    )
    runs = [subprocess.Popen([sys.executable, "-c", code, str(project)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [out.strip() for out, _ in outputs] == ["fix.bench_height"] * 2
    assert sum("Building the answer index" in err for _, err in outputs) == 1  # one built, the other waited and loaded
    files = [f for f in (project / "cache").iterdir() if not f.name.endswith(".lock")]
    assert len(files) == 1 and files[0].name.startswith("index-")  # no temporary file left behind
    assert load_cached(files[0].stem.removeprefix("index-"), project / "cache") is not None


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda s: s.replace("max_questions: 5", "max_questions: 5\ncolour: red"), "colour: unknown key"),
    (lambda s: s.replace("max_questions: 5", "max_questions: 5\nmax_questions: 6"), "duplicate key 'max_questions'"),
    (lambda s: s.replace("max_questions: 5", "max_questions: five"), "max_questions: expected a whole number"),
    (lambda s: s.replace("cause.bench_height: 3}", "cause.bench_hieght: 3}", 1),
     "questions.where.Upper back or neck: unknown cause 'cause.bench_hieght'"),
    (lambda s: s.replace("    text: \"Where do you feel it most?\"", "    txt: \"Where do you feel it most?\""),
     "questions[0].txt: unknown key"),
])
def test_check_file_errors_are_one_line_naming_file_place_and_problem(tmp_path, capsys, monkeypatch, edit, problem):
    from bot.cli import main

    bad = tmp_path / "check.yaml"
    text = (ROOT / "check.yaml").read_text()
    changed = edit(text)
    assert changed != text
    bad.write_text(changed)
    monkeypatch.setenv("HIPBOT_CHECK", str(bad))
    default_engine.cache_clear()  # the default engine reads the files named by the environment
    try:
        assert main(["ask", "/check"]) == 2
    finally:
        default_engine.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith(f"hipbot: error: {bad}: ") and err.count("\n") == 1 and problem in err
