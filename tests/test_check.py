"""The guided check: screen first, at most five questions, ranked causes with their fixes."""

from __future__ import annotations

import re

import pytest

SCREEN_NO = "no, none of those"


def run_check(converse, *answers: str):
    return converse("/check", *answers)


def test_screen_comes_first_and_a_yes_ends_the_check(converse):
    start, answer = run_check(converse, "yes")
    assert (start.intent, start.topic) == ("check", "check.screen")
    assert "numbness or tingling" in start.text
    assert answer.intent == "red_flag"
    assert answer.state.check_step is None
    assert "physical therapist" in answer.text


def test_a_red_flag_in_any_answer_wins(converse):
    *_, last = run_check(converse, SCREEN_NO, "at the top, and my left foot goes numb too")
    assert last.intent == "red_flag" and last.topic == "red_flag.numbness"
    assert last.state.check_step is None


@pytest.mark.parametrize(("answers", "cause"), [
    (["it hurts right at the top when I lock out", "shins vertical, feet hip-width apart", "light", "no"],
     "cause.lumbar_extension"),
    (["where the pad sits", "from the first rep", "1", "1", "1"], "cause.pad_position"),
    (["Upper back or neck", "higher: near my neck, or I slide up during the set", "1", "1", "1"], "cause.bench_height"),
    (["hamstrings", "far out in front of my knees", "1", "1", "1"], "cause.foot_placement"),
    (["only in the last reps of a set", "heavy: the last reps are a grind", "1", "1", "1"], "cause.overloading"),
    (["barely, it's mostly my back", "one side more than the other", "1", "1", "1"], "cause.glute_activation"),
    (["yes, I have a herniated disc", "1", "1", "1", "1"], "cause.preexisting_condition"),
])
def test_scripted_checks_rank_the_cause_first(converse, answers, cause):
    replies = run_check(converse, SCREEN_NO, *answers, *["1"] * 6)  # "1": the first choice, if asked more
    result = next(r for r in replies[2:] if r.intent != "check")
    assert (result.intent, result.topic) == ("cause", cause)
    assert result.sources[0].id == cause
    assert "What to do" in result.text
    asked = [r for r in replies if r.intent == "check" and r.topic != "check.screen"]
    assert len({r.topic for r in asked}) <= 5


def test_free_text_answers_several_questions_at_once(converse):
    said = "it hurts at the top when I lock out and I barely feel my glutes"
    start, screen, nxt = run_check(converse, SCREEN_NO, said)
    answered = dict(nxt.state.check_answers)
    assert answered["where"] == "Low back, mostly at the top of the rep"
    assert answered["glutes"] == "Barely: it's mostly my back"
    assert nxt.topic not in ("check.where", "check.glutes")


def test_unclear_answer_is_asked_again_once_then_skipped(converse):
    *_, first, again, after = run_check(converse, SCREEN_NO, "banana", "banana")
    assert first.topic == again.topic
    assert again.text.startswith("Sorry, I didn't catch that")
    assert after.topic != first.topic
    assert (first.topic.removeprefix("check."), "skipped") in after.state.check_answers


@pytest.mark.parametrize("word", ["stop", "cancel", "/reset", "never mind"])
def test_cancel_leaves_the_check(converse, word):
    *_, cancelled, normal = run_check(converse, SCREEN_NO, word, "how do I set the bench?")
    assert cancelled.state.check_step is None
    assert "check stopped" in cancelled.text
    assert normal.intent == "fix"


@pytest.mark.parametrize("text", [
    "can you help me figure out why my back hurts?",
    "can you go through my form with me?",
    "could you look over my setup",
    "help me work out why my back hurts",
    "ask me some questions to find the cause",
])
def test_plain_request_starts_the_check(engine, text):
    reply = engine.answer(text)
    assert reply.intent == "check" and reply.topic == "check.screen"
    assert reply.suggestions == ("Yes, at least one", "No, none of these")


def test_red_flag_in_the_request_beats_starting_the_check(engine):
    assert engine.answer("check my form, my leg has been numb since yesterday").intent == "red_flag"


def test_never_more_than_five_questions_after_the_screen(converse):
    replies = run_check(converse, SCREEN_NO, *["not sure"] * 20)
    questions = [r for r in replies
                 if r.intent == "check" and not r.text.startswith("Sorry") and r.topic != "check.screen"]
    assert len(questions) <= 5
    assert replies[-1].intent != "check"


@pytest.mark.parametrize("answer", ["stop, my leg is going numb", "show me the setup, my foot tingles"])
def test_a_red_flag_beats_stop_and_the_picture(converse, answer):
    *_, last = run_check(converse, SCREEN_NO, answer)
    assert last.intent == "red_flag"
    assert last.state.red_flags and last.state.check_step is None


def test_a_red_flag_only_the_sign_model_sees_still_ends_the_check(converse, engine):
    text = "my left leg keeps folding under me on the stairs"
    assert not engine.safety.screen(text, engine.answer("hi").state).triage  # no pattern sees it
    assert engine.answer(text).intent == "red_flag"
    *_, last = run_check(converse, SCREEN_NO, text)
    assert last.intent == "red_flag"


@pytest.mark.parametrize("answer", ["no idea", "n/a"])
def test_unsure_screen_answers_are_not_a_no(converse, answer):
    _, again = run_check(converse, answer)
    assert again.topic == "check.screen" and again.text.startswith("Sorry")


def test_plain_yes_and_no_pick_the_yes_and_no_choices(engine):
    from dataclasses import replace

    from bot import State

    at_condition = replace(State(), check_step="condition", check_answers=(("screen", "no"),))
    assert dict(engine.answer("nope", at_condition).state.check_answers)["condition"] == "No"
    at_glutes = replace(State(), check_step="glutes", check_answers=(("screen", "no"),))
    assert dict(engine.answer("yes", at_glutes).state.check_answers)["glutes"] == "Yes, clearly"


def test_a_check_question_that_no_longer_exists_is_left(engine):
    from bot import State

    reply = engine.answer("how should I set the bench?", State.from_dict({"check_step": "removed-question"}))
    assert reply.intent == "fix" and reply.state.check_step is None


def test_the_check_says_what_it_understood_skips_idk_and_quotes_only_the_user(converse):
    said = "the pad sits on my belly and it hurts the whole rep"
    replies = converse("/check", "no", said, "idk", "not sure", "no idea", "1", "1", "1")
    understood = replies[2]
    assert understood.text.startswith("Got it: “Low back, through the whole rep”; you said “pad sits on my belly”.")
    assert replies[3].text.startswith("No problem, let's skip that one.")  # "idk" skips at once
    result = next(r for r in replies if r.intent == "cause")
    assert len(result.text) <= 900
    for quoted in re.findall(r"“([^”]+)”", result.text):
        assert quoted in said  # words in quotes are the user's own
    picked = {label for r in replies for label in r.suggestions}
    for reasons in re.findall(r"\(from your answers: (.+)\)$", result.text, re.M):
        for reason in reasons.split("; "):
            assert reason.startswith("you said “") or any(reason == p[:1].lower() + p[1:] for p in picked)
