"""Follow-ups resolve against the previous turn; the state is an explicit value."""

from __future__ import annotations

from bot import State


def test_fix_that_after_a_cause_gives_that_causes_fix(converse):
    cause, fix = converse("could the pad sitting on my belly be why my back hurts?", "ok how do I fix that?")
    assert (cause.intent, cause.topic) == ("cause", "cause.pad_position")
    assert (fix.intent, fix.topic) == ("fix", "fix.pad_position")
    assert "hip crease" in fix.text


def test_what_about_keeps_the_mode(converse):
    first, second = converse("how should I set the bench height?", "what about my feet?")
    assert first.topic == "fix.bench_height"
    assert (second.intent, second.topic) == ("fix", "fix.foot_placement")


def test_why_after_a_fix_gives_the_cause(converse):
    _, why = converse("how do I set my feet on the thrust machine", "why does that matter for my back?")
    assert (why.intent, why.topic) == ("cause", "cause.foot_placement")


def test_and_if_it_still_hurts_goes_to_professional_help(converse):
    *_, last = converse("how do I brace my core on thrusts?", "and if it still hurts after that?")
    assert last.intent == "red_flag"
    assert "physical therapist" in last.text


def test_after_a_red_flag_cause_guesses_stay_red_flag(converse):
    flag, guess = converse("pain goes down into my calf when I thrust", "could it just be tight hip flexors?")
    assert flag.intent == guess.intent == "red_flag"
    assert "Earlier you mentioned" in guess.text


def test_thanks_in_between_keeps_the_topic(converse):
    *_, fix = converse("is arching my back at the top the problem?", "thanks!", "so how do I fix it?")
    assert fix.topic == "fix.range_of_motion"


def test_state_is_returned_not_kept(engine):
    first = engine.answer("why does my back hurt when my feet are too far out?")
    assert engine.answer("how do I fix that?").topic == "fix.general"  # no state passed: no memory
    assert engine.answer("how do I fix that?", first.state).topic == "fix.foot_placement"
    assert first.state.turns == 1


def test_suggestions_are_answerable_follow_ups(engine):
    cause = engine.answer("could overloading the machine be what hurts my back?")
    replies = {s: engine.answer(s, cause.state) for s in cause.suggestions}
    assert replies["How do I fix it?"].topic == "fix.weight"
    assert replies["When should I see a professional?"].intent == "red_flag"
    walked = replies["What else can cause it?"]  # the next cause in the article's list, not the overview again
    assert walked.topic.startswith("cause.") and walked.topic not in ("cause.general", "cause.overloading")


def test_after_a_red_flag_form_questions_get_the_guidance_and_commands_still_work(converse):
    flag, setup, muscles, check = converse("my foot goes numb on thrusts", "where should the pad sit?",
                                           "which muscles does the hip thrust work?", "/check")
    assert flag.intent == "red_flag"
    assert setup.intent == "red_flag" and setup.text.startswith("⚠️ Please get checked by a physical therapist")
    assert "Earlier you mentioned" in setup.text
    assert muscles.intent == "about"
    assert (check.intent, check.topic) == ("red_flag", "red_flag.numbness")  # no form check after a red flag


def test_red_flag_suggestions_do_not_loop_back_to_the_same_reply(engine):
    flag = engine.answer("pain shoots down my leg")
    for suggestion in flag.suggestions:
        assert engine.answer(suggestion, flag.state).text != flag.text


def test_state_from_ill_typed_data_falls_back_to_defaults():
    state = State.from_dict({"red_flags": "red_flag.numbness", "turns": "3", "check_answers": [[1, 2]], "x": 1})
    assert state == State()
    assert State.from_dict(["not", "a", "dict"]) == State()


def test_what_else_and_any_drills_follow_ups(converse):
    _, other = converse("could my bench be too high?", "what else could it be?")
    assert other.topic == "cause.lumbar_extension" and other.text.startswith("Another one from the article")
    _, drills = converse("my glutes dont work on thrusts, only my back", "any drills for that?")
    assert drills.topic == "fix.glute_activation" and "clam shells" in drills.text
