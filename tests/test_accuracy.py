"""The bot holds its accuracy and its safety on every labelled set, at the level measured when the
sentence-encoder understanding landed (2026-12-07). Each floor is the measured figure less about two
points (the encoder's int8 arithmetic can differ by a hair between processors), and each ceiling on
false escalation the measured figure plus about two points: a regression fails CI.

The development sets were looked at while tuning; the `*_fresh*` sets were written by people who had
not seen the others, and scored once before this tuning by earlier work, so they are development sets
now too. The figures that judge generalisation are in the README (held-out sets scored once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluate import evaluate, load_cases

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"

# set: (accuracy at least, red-flag recall at least, false escalation at most), measured - / + 0.02
FLOORS = {
    "paraphrases.yaml": (0.94, 0.98, 0.03),
    "paraphrases_2.yaml": (0.92, 0.98, 0.03),
    "paraphrases_3.yaml": (0.93, 0.94, 0.04),
    "paraphrases_4.yaml": (0.95, 0.98, 0.02),
    "real_dev.yaml": (0.88, 0.98, 0.03),
    "triage_dev.yaml": (0.87, 0.95, 0.09),
    "triage_dev_2.yaml": (0.92, 0.94, 0.03),
    "triage_dev_3.yaml": (0.84, 0.87, 0.09),
    "triage_dev_4.yaml": (0.91, 0.97, 0.03),
    "triage_dev_5.yaml": (0.90, 0.95, 0.06),
    "triage_dev_6.yaml": (0.84, 0.96, 0.14),
    "triage_dev_7.yaml": (0.89, 0.91, 0.03),
    "triage_dev_8.yaml": (0.75, 0.72, 0.04),
    "triage_dev_9.yaml": (0.84, 0.95, 0.05),
    "real_fresh.yaml": (0.86, 0.93, 0.03),
    "triage_fresh.yaml": (0.87, 0.89, 0.07),
    "triage_fresh_2.yaml": (0.83, 0.91, 0.07),
    "heldout_real.yaml": (0.92, 0.98, 0.06),  # held out, scored once at the end of the work: 94.2%, 100%, 3.6%
    "heldout_triage.yaml": (0.91, 0.95, 0.09),  # the same: 93.2%, 97.5%, 6.2%
    "heldout_real_2.yaml": (0.94, 0.98, 0.05),  # by someone who saw no other set, scored once: 96.5%, 100%, 2.2%
    "heldout_real_3.yaml": (0.89, 0.94, 0.07),  # a third writer who saw no other set, scored once: 91.7%, 96.4%, 4.3%
    "heldout_real_4.yaml": (0.53, 0.90, 0.12),  # a fourth, looser (blog lines, titles), once: 54.9%, 92.0%, 10.2%
    # (113 items; one, a joke request that an example already held word for word, is left out here)
}
SHARED_FLOORS = {
    "dev.yaml": (0.91, 0.98, 0.03),
    "real-dev.yaml": (0.81, 0.93, 0.02),
}


def _missed_red_flags(scores) -> list[str]:
    return [o.case.text for o in scores.outcomes if o.case.intent == "red_flag" and o.intent != "red_flag"]


def test_every_labelled_set_has_a_floor():
    assert {p.name for p in DATA.glob("*.yaml")} == set(FLOORS)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_labelled_sets_hold_their_level(engine, name):
    accuracy, recall, escalation = FLOORS[name]
    scores = evaluate(load_cases(DATA / name), engine.answer)
    assert scores.red_flag_recall >= recall, _missed_red_flags(scores)
    assert scores.accuracy >= accuracy
    assert scores.false_escalation <= escalation


@pytest.mark.parametrize("name", sorted(SHARED_FLOORS))
def test_shared_development_sets_hold_their_level(engine, name):
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} is not beside this checkout")
    accuracy, recall, escalation = SHARED_FLOORS[name]
    scores = evaluate(load_cases(path), engine.answer)
    assert scores.red_flag_recall >= recall, _missed_red_flags(scores)
    assert scores.accuracy >= accuracy
    assert scores.false_escalation <= escalation
