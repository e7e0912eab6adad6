"""Routing on representative wording of each intent (none of it from an evaluation set)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("text", "intent", "term"), [
    ("why does my lower back ache every time I use the hip thrust machine", "cause", "lower back takes on the load"),
    ("i think my back bends backwards at lockout, is that the issue?", "cause", "hyperextending"),
    ("bench on our machine is super high, could that be making my back hurt", "cause", "hip angle"),
    ("the pad sits on my stomach, is that why it hurts?", "cause", "hip crease"),
    ("i load the whole stack, might that be the reason my back hurts", "cause", "too much weight"),
    ("my butt never feels anything, only my back. why", "cause", "erector spinae"),
    ("how do I stop my back hurting on hip thrusts", "fix", "hip crease"),
    ("how should i set the bench height", "fix", "shoulder blades"),
    ("where should my feet go on the platform?", "fix", "shins perpendicular"),
    ("how do i brace properly", "fix", "punch"),
    ("any warm up drills to wake up my glutes?", "fix", "clam shells"),
    ("should I go lighter?", "fix", "bodyweight"),
    ("what muscles does the hip thrust work", "about", "gluteus maximus"),
    ("what's the point of hip thrusts anyway", "about", "athletic performance"),
    ("give me the tl;dr of the article", "about", "form over"),
])
def test_routes_and_grounds(engine, text, intent, term):
    reply = engine.answer(text)
    assert reply.intent == intent, (reply.topic, reply.text[:200])
    assert term.lower() in reply.text.lower()
    assert reply.sources  # an answer from the article names its section


@pytest.mark.parametrize(("text", "intent"), [
    ("how do I deadlift with a rounded back", "out_of_scope"),
    ("what should I eat before leg day", "out_of_scope"),
    ("hello there", "greeting"),
    ("thanks a lot!", "greeting"),
])
def test_declines_and_small_talk_quote_nothing(engine, text, intent):
    reply = engine.answer(text)
    assert reply.intent == intent, (reply.topic, reply.text[:200])
    assert not reply.sources


@pytest.mark.parametrize(("text", "topic"), [
    ("my leg goes numb halfway through my set", "red_flag.numbness"),
    ("pins and needles in my toes after thrusts", "red_flag.numbness"),
    ("pain shoots down the back of my thigh when I lock out", "red_flag.radiating"),
    ("sharp stabbing pain in my lower back on the last rep", "red_flag.radiating"),
    ("my right leg gives way on the stairs since thrust day", "red_flag.weakness"),
    ("my back aches in bed at night even on rest days", "red_flag.pain_at_rest"),
    ("fixed my setup a month ago and it still hurts every session", "red_flag.persistent"),
    ("should I get an MRI for this?", "red_flag.general"),
])
def test_red_flags(engine, text, topic):
    reply = engine.answer(text)
    assert reply.intent == "red_flag"
    assert topic in {s.id for s in reply.sources} | {reply.topic}
    assert "physical therapist" in reply.text
    assert reply.text.startswith("🚨" if topic == "red_flag.general" else "⚠️")  # "when to worry": gravest tier first


def test_red_flag_buried_in_a_form_question_wins(engine):
    reply = engine.answer(
        "quick one about foot placement: should my shins be vertical at the top? "
        "also my left foot tingles a bit on every rep"
    )
    assert reply.intent == "red_flag"
    assert reply.topic == "red_flag.numbness"


def test_red_flag_far_into_a_long_message_is_still_found(engine):
    story = "I train four days a week and love glute work. " * 400
    reply = engine.answer(story + "Lately there's a shooting pain down my leg on thrusts.")
    assert reply.intent == "red_flag"


@pytest.mark.parametrize("text", [
    "no numbness or tingling, just a dull ache in my lower back at the top",
    "it doesn't shoot down my leg or anything, it's just my low back that's sore after thrusts",
])
def test_negated_signs_are_not_red_flags(engine, text):
    assert engine.answer(text).intent == "cause"


def test_red_flag_guidance_comes_first_and_never_diagnoses(engine):
    text = engine.answer("my calf goes numb after hip thrusts").text
    assert text.index("professional") < text.index("Numbness or Tingling")
    assert "can't diagnose" in text


def test_unclear_message_is_not_answered_with_article_content(engine):
    reply = engine.answer("zorp blivet quaggle")
    assert reply.intent == "out_of_scope"
    assert not reply.sources
    assert reply.suggestions


@pytest.mark.parametrize("text", [
    "I don't know why my leg tingles after hip thrusts",
    "nothing helps and my leg goes numb",
    "I never used to get tingling but now I do after hip thrusts",
    "i have no pain just tingling in my feet after hip thrusts",
    "without fail my foot goes numb during hip thrusts",
    "the pain travels to my hamstring when I thrust",
    "i can barely lift my foot after hip thrusts",
    "my lower back pain lasts days after hip thrusts",
    "my foot is tinling on every rep",
    "it feels like sciatca",
    "electric zap down my calf at lockout",
])
def test_red_flags_that_a_loose_negation_or_a_typo_used_to_hide(engine, text):
    assert engine.answer(text).intent == "red_flag"


@pytest.mark.parametrize("text", [
    "the pad on the machine gave way mid set, could that be why my back hurts?",
    "I sleep fine, my back only hurts on the last reps",
    "me and my flatmate both get a twingey low back on the glute machine, usual culprits?",
])
def test_everyday_words_are_not_red_flags(engine, text):
    assert engine.answer(text).intent != "red_flag"


def test_a_long_story_with_a_misspelled_sign_is_still_a_red_flag(engine):
    story = "I have been training for years and love the glute drive machine at my gym. " * 40
    assert engine.answer(story + "Lately my leg feels like sciatca after thrusts.").intent == "red_flag"


@pytest.mark.parametrize("text", ["back hurts", "my back hurts", "back pain"])
def test_bare_back_pain_is_a_cause_question_not_a_red_flag(engine, text):
    assert engine.answer(text).topic == "cause.general"


def test_quads_are_part_of_the_article_not_another_body_part(engine):
    assert engine.answer("I feel it in my quads on hip thrusts, why?").intent == "cause"
