"""What the article does not answer is declined plainly; what it does answer is still answered."""

from __future__ import annotations

import pytest

from bot import Engine, State

NOT_COVERED = [
    ("how many sets and reps should I do on the hip thrust machine?", "programming"),
    ("is 3 times a week too often for hip thrusts", "programming"),
    ("is a 120kg hip thrust good for a woman my size?", "load_numbers"),
    ("machine hip thrust vs barbell hip thrust, which is safer for the back?", "comparison"),
    ("are glute bridges just as good as hip thrusts?", "comparison"),
    ("can I keep doing hip thrusts now that I'm pregnant?", "pregnancy"),
    ("when can I go back to the hip thrust machine after my c-section?", "pregnancy"),
    ("should I take ibuprofen before my glute session?", "medication"),
    ("ice or a heating pad for my back after thrusts?", "heat_ice"),
    ("does creatine help with hip thrust strength?", "supplements"),
    ("will the hip thrust machine make my butt bigger?", "aesthetics"),
    ("my knees ache after hip thrusts, why?", "other_pain_site"),
    ("how do I set up the abductor machine?", "other_equipment"),
    ("which brand of hip thrust machine should I buy for my home gym?", "brands"),
    ("my back hurts after golf, any tips?", "other_activity"),
    ("who invented the hip thrust?", "history"),
]


@pytest.mark.parametrize(("text", "kind"), NOT_COVERED)
def test_each_kind_the_article_does_not_answer_is_declined(engine, text, kind):
    reply = engine.answer(text)
    assert (reply.intent, reply.topic) == ("out_of_scope", f"out_of_scope.{kind}")
    assert reply.text.startswith(engine.config.not_covered[[g.kind for g in engine.config.not_covered].index(kind)].say)
    assert reply.suggestions


def test_a_decline_says_what_the_article_does_say_when_it_is_related(engine):
    reply = engine.answer("how many reps should I do?")
    assert "doesn't give set, rep" in reply.text
    assert "Prioritize perfect form over heavy weight" in reply.text
    assert reply.sources[0].id == "fix.weight"


def test_a_partly_covered_message_answers_the_covered_part(engine):
    reply = engine.answer("how many sets should I do, and where should the pad sit on my hips?")
    assert reply.intent == "fix" and reply.topic == "fix.pad_position"
    assert reply.text.startswith("The article doesn't give set, rep")
    assert reply.text.index("doesn't give") < reply.text.index("hip crease")
    assert "hip crease" in reply.text


@pytest.mark.parametrize("text", [
    "I do hip thrusts 3x a week and my lower back aches at the top, why?",
    "where should my feet go on the machine?",
    "is a higher bench better than a lower one for my back?",
    "thanks, lowering the bench fixed it!",
])
def test_context_that_only_mentions_those_kinds_is_not_declined(engine, text):
    assert engine.answer(text).intent != "out_of_scope"


@pytest.mark.parametrize(("text", "topic"), [
    ("ta very much, the yoga mat trick worked a treat", "greeting.thanks"),
    ("hola :)", "greeting.hello"),
    ("gotta head to the gym now, later", "greeting.goodbye"),
])
def test_social_messages_are_greetings(engine, text, topic):
    assert engine.answer(text).topic == topic


@pytest.mark.parametrize("text", ["my back and the machine", "my hips and my back"])
def test_a_middling_confidence_answer_says_so_and_offers_other_topics(engine, text):
    reply = engine.answer(text)
    routing = engine.config.routing
    assert reply.intent in ("cause", "fix", "about") and routing.ask_below <= reply.confidence < routing.sure
    assert reply.text.endswith(engine.config.replies["hedge"]) and not reply.text.startswith("I think")
    assert len(reply.suggestions) >= 2


def test_unsure_wording_follows_the_confidence(engine):
    """Article answers below `ask_below` ask which part was meant, from there to `sure` they answer and
    hedge, and above it they just answer (all three kinds are asked)."""
    replies = [engine.answer(text) for text in ["glutes?", "my back and the machine", "thrust pad bench feet",
                                                "hips and the top", "how high should the bench be for hip thrusts?"]]
    assert all(reply.intent in ("cause", "fix", "about") for reply in replies)
    routing = engine.config.routing
    bands = [(reply.confidence >= routing.ask_below) + (reply.confidence >= routing.sure) for reply in replies]
    assert set(bands) == {0, 1, 2}
    for reply, band in zip(replies, bands):
        asks_back = reply.text.startswith("Did that answer it?") or "\n\nDid that answer it?" in reply.text
        clarifies = reply.text == engine.config.replies["clarify"]
        assert (clarifies, asks_back) == (band == 0, band == 1), (reply.topic, reply.confidence)


def test_the_check_counts_free_text_evidence_for_the_causes_it_names(converse):
    said = "the pad sits high on my belly and my low back aches through each rep, moderate weight, feet fine"
    replies = converse("/check", "no", said, *["1"] * 6)
    result = next(r for r in replies[2:] if r.intent != "check")
    assert result.topic == "cause.pad_position"
    assert "“pad” … “high” … “belly”" in result.text  # the words that named the cause, never the rest


def test_a_not_covered_follow_up_after_a_red_flag_still_gets_the_guidance(converse):
    _, later = converse("my foot goes numb on thrusts", "should I take ibuprofen for it?")
    assert later.intent == "red_flag"


def test_state_is_kept_through_a_decline(engine):
    first = engine.answer("could the pad on my belly be the problem?")
    declined = engine.answer("how many sets should I do?", first.state)
    assert declined.state.topic == first.state.topic == "cause.pad_position"
    assert isinstance(declined.state, State)


def test_a_not_covered_subject_named_before_a_bare_question_is_declined(engine):
    reply = engine.answer("Sore knees from the glute machine lately. Anyone else get this?")
    assert reply.topic == "out_of_scope.other_pain_site"
    kept = engine.answer("I do hip thrusts 3x a week. Why does my lower back ache at the top?")
    assert kept.intent == "cause"


def test_a_question_pointing_back_at_a_not_covered_subject_is_declined(engine):
    reply = engine.answer("My gym got a new adductor machine. Does this thing do anything for the glutes, "
                          "and how do I use it?")
    assert reply.topic == "out_of_scope.other_equipment"
    kept = engine.answer("I do the adductor machine first. Why don't my glutes fire on the thrust?")
    assert kept.intent == "cause"


@pytest.mark.parametrize(("text", "topic"), [
    ("Glute Anatomy: What Muscles Make Up Your Glutes", "about.muscles"),
    ("three reasons you should hip thrust", "about.purpose"),
])
def test_headings_that_name_a_topic_outright(engine, text, topic):
    assert engine.answer(text).topic == topic


def test_small_talk_may_ask_a_question_that_is_not_about_the_subject(engine):
    assert engine.answer("hey again, long time no see, how have you been?").intent == "greeting"
    assert engine.answer("hi, why does my back hurt on hip thrusts?").intent == "cause"


def test_back_pain_on_a_floor_bridge_is_answered_with_what_carries_over(engine: Engine) -> None:
    """The causes mostly apply to a bridge: they are given, after saying which ones (the bench, pad and
    machine) do not; a bridge as the article's warm-up drill is answered without it."""
    bridge = engine.answer("why do floor bridges make my lower back ache")
    assert bridge.intent == "cause"
    assert bridge.text.startswith("The article is about the hip thrust machine, not the floor bridge")
    assert "Bench height" not in bridge.text and "Sleepy glutes" in bridge.text
    assert bridge.sources
    drill = engine.answer("are glute bridges a good warm-up before hip thrusts?")
    assert "not the floor bridge" not in drill.text


def test_a_history_of_back_pain_is_not_the_history_of_the_exercise(engine: Engine) -> None:
    """"History of" declines only the exercise's history; someone's medical history is answered."""
    told = engine.answer("with a history of low back pain, should I warm my glutes up before thrusting?")
    asked = engine.answer("what's the history of the hip thrust?")
    assert told.intent == "fix" and asked.topic == "out_of_scope.history"
