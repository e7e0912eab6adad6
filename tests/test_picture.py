"""The setup picture: two panels (wrong, right), every label an article quote, readable at phone size."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from PIL import Image

from bot import DataError, Engine, State
from bot._config import WRONG_PREFIX
from bot.picture import draw_setup, setup_figure, setup_png

ROOT = Path(__file__).resolve().parent.parent


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()


@pytest.fixture(scope="module")
def reply(engine):
    return engine.answer("/diagram", State())


@pytest.fixture
def figure(reply):
    from matplotlib import pyplot as plt

    drawn = setup_figure(dict(reply.picture))
    drawn.canvas.draw()
    yield drawn
    plt.close(drawn)


def _labels(axes) -> list:
    return [text for text in axes.texts if text.get_text()]


def test_the_reply_carries_both_panels_labels(engine, reply):
    picture = engine.config.picture
    names = [name for name, _ in reply.picture]
    assert set(names) == set(picture.labels) | {WRONG_PREFIX + name for name in picture.wrong_labels}
    assert {"wrong.arch", "wrong.pad", "wrong.feet", "wrong.gaze"} <= set(names)
    assert "Pad sits directly in your hip crease" in reply.text
    assert "Not on your pelvis or abdomen" not in reply.text  # the text lists the cues to follow, not the faults
    assert "fix.pad_position" in {source.id for source in reply.sources}


def test_every_label_is_a_quote_from_its_own_section(engine, reply):
    sections = {c.id: _flat(c.text) for c in engine.chunks}
    picture = engine.config.picture
    specs = {**picture.labels, **{WRONG_PREFIX + name: spec for name, spec in picture.wrong_labels.items()}}
    for name, label in reply.picture:
        section, quote = specs[name]
        assert _flat(label) == _flat(quote)
        assert _flat(label) in sections[section], (name, section)


def test_two_panels_titled_wrong_and_right(figure):
    left, right = figure.axes
    assert left.get_title() == "Wrong" and right.get_title() == "Right"
    assert left.get_position().x1 <= right.get_position().x0  # side by side, wrong on the left


def test_each_panel_draws_its_own_labels_as_article_quotes(engine, reply, figure):
    left, right = figure.axes
    labels = dict(reply.picture)
    wrong = {_flat(text) for name, text in labels.items() if name.startswith(WRONG_PREFIX)}
    good = {_flat(text) for name, text in labels.items() if not name.startswith(WRONG_PREFIX)}
    assert {_flat(t.get_text()) for t in _labels(left)} == wrong and len(wrong) == 4
    assert {_flat(t.get_text()) for t in _labels(right)} == good and len(good) == 6
    article = " ".join(_flat(c.text) for c in engine.chunks)
    assert all(_flat(t.get_text()) in article for t in _labels(left) + _labels(right))


def test_right_labels_point_at_the_body_and_no_label_overlaps_another(figure):
    renderer = figure.canvas.get_renderer()
    left, right = figure.axes
    assert all(t.arrow_patch is not None for t in _labels(right))
    assert sum(t.arrow_patch is not None for t in _labels(left)) >= 3
    for axes in (left, right):
        x0, x1 = axes.get_xlim()
        y0, y1 = axes.get_ylim()
        for text in _labels(axes):
            tip_x, tip_y = text.xy
            assert x0 < tip_x < x1 and y0 < tip_y < y1
            panel, box = axes.get_window_extent(renderer), text.get_bbox_patch().get_window_extent(renderer)
            assert panel.x0 < box.x0 < box.x1 < panel.x1 and panel.y0 < box.y0 < box.y1 < panel.y1, text.get_text()
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in _labels(left) + _labels(right)]
    for one, other in itertools.combinations(boxes, 2):
        assert not one.overlaps(other)


def test_the_png_is_phone_sized_and_small(reply):
    png = setup_png(tuple(sorted(reply.picture)))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 500_000
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (1760, 836)
    assert setup_png(tuple(sorted(reply.picture))) is png  # drawn once per process


def test_a_label_the_drawing_has_no_place_for_is_still_drawn():
    png = draw_setup({"extra": "Think of pulling your ribs down towards your hips"})
    assert png.startswith(b"\x89PNG")


@pytest.mark.parametrize("block", ["labels", "wrong_labels"])
def test_a_label_that_misquotes_its_section_is_a_one_line_error(tmp_path, block):
    bad = tmp_path / "intents.yaml"
    text = (ROOT / "intents.yaml").read_text()
    line = {"labels": '    pad: {section: fix.pad_position, quote: "pad sits directly in your hip crease"}',
            "wrong_labels": '    pad: {section: cause.pad_position, quote: "not on your pelvis or abdomen"}'}[block]
    assert line in text
    bad.write_text(text.replace(line, line.replace("pelvis", "knees").replace("hip crease", "armpit")))
    with pytest.raises(DataError) as error:
        Engine(ROOT / "corpus", bad, cache=tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message
    assert f"picture.{block}.pad: quote not found in section" in message


def test_ask_writes_the_picture_for_scripts(tmp_path, capsys) -> None:
    from bot.cli import main

    target = tmp_path / "setup.png"
    assert main(["ask", "--picture", str(target), "/diagram"]) == 0
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"picture written to {target}" in capsys.readouterr().err
    other = tmp_path / "none.png"
    assert main(["ask", "--picture", str(other), "where should the pad sit?"]) == 0
    assert not other.exists()  # no picture in that reply, no file
