"""The bot holds its accuracy and its safety on labelled wording it was not trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluate import evaluate, load_cases

DATA = Path(__file__).parent / "data"


def _missed_red_flags(scores) -> list[str]:
    return [o.case.text for o in scores.outcomes if o.case.intent == "red_flag" and o.intent != "red_flag"]


@pytest.mark.parametrize("name", ["paraphrases.yaml", "paraphrases_2.yaml", "paraphrases_3.yaml", "paraphrases_4.yaml"])
def test_labelled_paraphrases(engine, name):
    scores = evaluate(load_cases(DATA / name), engine.answer)
    assert scores.red_flag_recall == 1.0, _missed_red_flags(scores)
    assert scores.accuracy >= 0.93
    assert scores.false_escalation <= 0.02
    assert len(scores.content_leaks) <= 1


@pytest.mark.parametrize("name", ["triage_dev.yaml", "triage_dev_2.yaml", "triage_dev_3.yaml", "triage_dev_4.yaml", "triage_dev_5.yaml",
                                  "triage_dev_6.yaml", "triage_dev_7.yaml"])
def test_triage_sets(engine, name):
    """Every red flag caught, emergency and urgent ones in their tier, few false alarms."""
    scores = evaluate(load_cases(DATA / name), engine.answer)
    assert scores.red_flag_recall == 1.0, _missed_red_flags(scores)
    assert all(right == labelled for right, labelled in scores.tiers().values()), scores.tiers()
    assert scores.false_escalation <= 0.03
    assert scores.accuracy >= 0.93


def test_indirect_wordings_set(engine):
    """Signs described only by metaphor and consequence ("my foot feels like it's someone else's"):
    the hardest set, held to a slightly lower recall, and still no false alarms."""
    scores = evaluate(load_cases(DATA / "triage_dev_8.yaml"), engine.answer)
    assert scores.red_flag_recall >= 0.95, _missed_red_flags(scores)
    assert scores.false_escalation <= 0.03


def test_forum_style_set(engine):
    """Reddit and Q&A style posts: every red flag caught in its tier. One look-alike (a relative's
    sciatica mentioned as context) still reads as a sign: a false alarm we accept over a miss."""
    scores = evaluate(load_cases(DATA / "triage_dev_9.yaml"), engine.answer)
    assert scores.red_flag_recall == 1.0, _missed_red_flags(scores)
    assert all(right == labelled for right, labelled in scores.tiers().values()), scores.tiers()
    assert scores.false_escalation <= 0.04
