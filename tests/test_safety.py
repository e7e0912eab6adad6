"""Safety triage: tiers, red flags as people write them, stickiness, the check's scan, no crying wolf."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import State

EMERGENCY = [
    "since friday's thrust session the skin round my privates feels numb and weird",
    "back went on the machine and now i cant really tell when i need to wee",
    "lower back agony and i had an accident, wet myself without noticing",
    "both my legs have gone tingly and weak since yesterdays session",
    "slipped on the gym stairs and landed on my back, now my right foot is numb",
    "saddle numbness after hip thrusts, is that a thing?",
    "since the weekend I can hardly pass water and my back is wrecked",  # the old idiom for peeing
    "went down hard in the gym and now I'm unable to move or feel my legs",
    "my back gave out and there is almost no strength left in both legs",
]
URGENT = [
    "back has been killing me since thrusts and i've been shivery with a temperature all week",
    "dropped about 6kg without trying and now my lower back aches on hip thrusts",
    "had breast cancer 5 years ago, new lower back pain from the glute machine",
    "fell down the stairs at home yesterday and my back hurts when I thrust",
    "been on prednisone for years for asthma, hip thrusts hurt my back",
    "i have osteoporosis, is back pain on hip thrusts a worry?",
    "my foot slaps the floor when i walk now",  # new weakness (NICE NG59: progressive neurological deficit)
    "the physio thinks I've got a drop foot on the left",
]
ARTICLE = [
    ("three weeks now and my back still hurts on every thrust", "red_flag.persistent"),
    ("changed my bench height and feet like the article said, still there", "red_flag.persistent"),
    ("every week it keeps getting worse", "red_flag.persistent"),
    ("my back wakes me at 4am since I started thrusting", "red_flag.pain_at_rest"),
    ("lower back aches in bed before i've even trained", "red_flag.pain_at_rest"),
    ("burning down the back of my thigh after the machine", "red_flag.radiating"),
    ("like an electric shock into my butt cheek on the way up", "red_flag.radiating"),
    ("pain goes all the way to my toes", "red_flag.radiating"),
    ("my leg buckled on the stairs after thrust day", "red_flag.weakness"),
    ("I can't stand on my tiptoes on the left side since then", "red_flag.weakness"),
]
CALM = [
    "fell off the wagon for a month, how heavy should I go when I restart hip thrusts?",
    "my glutes are so weak, is that why my back takes over?",
    "I take a bathroom break between sets, does resting that long matter?",
    "the pad digs into my hip bone, where should it sit?",
    "where should my feet be on the hip thrust machine?",
    "my glutes fall asleep on thrusts and my back does everything",
    "legs shaking on the last rep of a heavy set, is that normal?",
    "love the burn in my glutes but my lower back aches a bit",
    "made a sharp jump in weight last week and now my low back is sore",
    "my knees cave in at the top, does that matter for my back?",
]


@pytest.mark.parametrize("text", EMERGENCY)
def test_emergency_signs_get_emergency_care_first(engine, text):
    reply = engine.answer(text)
    assert (reply.intent, reply.topic) == ("red_flag", "red_flag.emergency")
    first_sentence = reply.text.split(". ")[0].lower()
    assert "emergency" in first_sentence
    assert "chiropractor" not in reply.text.lower() and "form" not in reply.text.lower()
    assert reply.sources[0].id == "red_flag.emergency"


@pytest.mark.parametrize("text", URGENT)
def test_urgent_signs_get_a_doctor_promptly(engine, text):
    reply = engine.answer(text)
    assert (reply.intent, reply.topic) == ("red_flag", "red_flag.urgent")
    assert "doctor today" in reply.text.split(". ")[0]
    assert "chiropractor" not in reply.text.lower()


@pytest.mark.parametrize(("text", "topic"), ARTICLE)
def test_article_signs_as_people_write_them(engine, text, topic):
    reply = engine.answer(text)
    assert (reply.intent, reply.topic) == ("red_flag", topic)
    assert "physical therapist" in reply.text.split("\n")[0]


@pytest.mark.parametrize("text", CALM)
def test_lookalikes_are_not_red_flags(engine, text):
    assert engine.answer(text).intent != "red_flag"


def test_the_highest_tier_wins(engine):
    assert engine.answer("foot tingles and I've had a fever since Monday").topic == "red_flag.urgent"
    assert engine.answer("fever, and now my groin is numb").topic == "red_flag.emergency"
    assert engine.answer("my foot tingles after thrusts").topic == "red_flag.numbness"  # not escalated


@pytest.mark.parametrize("follow_up", [
    "can I keep training?",
    "thanks, is it safe to keep doing them?",
    "ok should I just stretch it out?",
    "what about painkillers?",
    "cool, how do I fix it then?",
])
def test_red_flags_stick_to_carrying_on_and_self_treatment(converse, follow_up):
    flag, later = converse("pain shoots down my leg on every rep", follow_up)
    assert flag.topic == "red_flag.radiating"
    assert (later.intent, later.topic) == ("red_flag", "red_flag.radiating")
    assert later.text.startswith("⚠️ Please get checked by a physical therapist")  # the action comes first
    assert "Earlier you mentioned sharp, shooting or radiating pain" in later.text


@pytest.mark.parametrize("after", ["is it my form", "what now", "hi", "which muscles does it work?", "/diagram"])
def test_after_an_emergency_every_reply_repeats_it(converse, after):
    flag, later = converse("back hurts and now i cant control my bladder properly", after)
    assert flag.topic == later.topic == "red_flag.emergency"
    assert later.text.startswith("🚨 Please get emergency care now")


@pytest.mark.parametrize("message", ["my legs are numb after thrusts", "i cant feel my legs", "both legs went numb"])
def test_numb_legs_mean_emergency_care(engine, message):
    assert engine.answer(message).topic == "red_flag.emergency"


def test_asking_about_warning_signs_after_one_lists_them_then_stops_offering(converse):
    signs_asked = "what are the warning signs?"
    flag, signs, again = converse("my foot goes numb on thrusts", signs_asked, signs_asked)
    assert signs.text.startswith("⚠️ Please get checked") and "seek professional guidance if" in signs.text
    assert signs.suggestions == () and len(signs.text) < 600
    assert again.text != signs.text and len(again.text) < 600 and again.text.startswith("⚠️ Please get checked")


def test_an_emergency_sticks_even_to_form_questions(converse):
    *_, later = converse("numb between my legs since the thrusts", "thanks! where should the pad sit then?")
    assert (later.intent, later.topic) == ("red_flag", "red_flag.emergency")
    assert "emergency" in later.text.split(". ")[0]


def test_reset_state_forgets_the_red_flag(engine):
    flag = engine.answer("my foot goes numb on thrusts")
    assert engine.answer("can I keep training?", flag.state).intent == "red_flag"
    assert engine.answer("can I keep training?", State()).intent != "red_flag"


def test_a_sign_given_across_two_turns_counts(converse):
    first, second = converse("something is off with my left foot since thrusts", "like it's asleep")
    assert first.intent != "red_flag"
    assert (second.intent, second.topic) == ("red_flag", "red_flag.numbness")


def test_a_body_part_two_turns_back_does_not_count(converse):
    *_, last = converse("where should my feet go?", "ok thanks", "like it's asleep")
    assert last.intent != "red_flag"


@pytest.mark.parametrize("question", ["where", "when", "bench", "feet", "load", "glutes", "condition"])
def test_every_check_question_scans_its_answer(engine, question):
    at = replace(State(), check_step=question, check_answers=(("screen", "no"),))
    labels = engine.check.choices(question)
    reply = engine.answer(f"{labels[0]}. but my leg has gone numb since last week", at)
    assert (reply.intent, reply.topic) == ("red_flag", "red_flag.numbness")
    assert reply.state.check_step is None


def test_a_no_on_the_screen_with_a_sign_is_a_red_flag(converse):
    _, reply = converse("/check", "no but my foot has gone numb since last week")
    assert reply.intent == "red_flag"


@pytest.mark.parametrize("text", [
    "numb 🤦\u200d♂️",
    "\u200fmy leg goes numb\u200f",
    "my\u2060 leg goes numb",
    "tin\u200bgling in my foot",
])
def test_invisible_format_characters_do_not_hide_a_sign(engine, text):
    reply = engine.answer(text)
    assert reply.intent == "red_flag" and reply.topic != "out_of_scope.not_text"


def test_negated_signs_in_every_tier_are_not_red_flags(engine):
    assert engine.answer("no fever, no numbness, just a dull ache at the top of the thrust").intent == "cause"
    assert engine.answer("no trouble peeing or anything, my low back is just sore at lockout").intent == "cause"


def test_someone_elses_history_is_not_the_users(engine):
    assert engine.answer("my mum had cancer years ago, which muscles do hip thrusts work?").intent != "red_flag"


def test_after_an_emergency_the_check_and_not_covered_questions_get_the_guidance(converse):
    *_, check, sets = converse("I have numbness in my groin and saddle area", "help me figure out why my back hurts",
                              "how many sets and reps should I do?")
    assert (check.intent, check.topic) == ("red_flag", "red_flag.emergency")
    assert (sets.intent, sets.topic) == ("red_flag", "red_flag.emergency")


def test_a_yes_on_the_screen_keeps_a_graver_earlier_tier(engine):
    flagged = engine.answer("I've had a fever all week and my back hurts")
    running = replace(flagged.state, check_step="screen")
    assert engine.answer("yes", running).topic == "red_flag.urgent"


@pytest.mark.parametrize("text", [
    "never experienced this numbness in my groin",
    "I've never had trouble peeing like this before",
    "I never had tingling in both legs till this week",
])
def test_a_negation_that_the_rest_of_the_sentence_undoes_does_not_hide_a_sign(engine, text):
    assert engine.answer(text).topic == "red_flag.emergency"


def test_unknown_red_flags_in_a_stored_state_are_dropped(engine):
    reply = engine.answer("can I keep training?", State.from_dict({"red_flags": ["red_flag.sciatica", ""]}))
    assert reply.intent != "red_flag" and reply.state.red_flags == ()


def test_thanks_after_a_red_flag_keeps_its_advice(converse):
    _, thanks = converse("numb around my groin since the machine", "ok thanks")
    assert thanks.intent == "greeting" and "emergency" in thanks.text and "Train smart" not in thanks.text


@pytest.mark.parametrize("after", ["is it my form?", "what does that mean", "?", "show me the setup", "anything else",
                                   "what should i change"])
def test_after_a_sign_replies_keep_its_advice(converse, after):
    flag, later = converse("pain shoots from my lower back down my right leg to my calf", after)
    assert flag.intent == later.intent == "red_flag" and later.text.startswith("⚠️ Please get checked")
    assert later.picture == () and len(later.text) < 600


def test_after_a_sign_anatomy_and_thanks_are_still_answered(converse):
    _, muscles, thanks = converse("my foot tingles on thrusts", "which muscles does it work", "thanks")
    assert muscles.topic == "about.muscles"
    assert thanks.topic == "greeting.thanks" and "physical therapist" in thanks.text


@pytest.mark.parametrize("message", ["my legs are dead after squats lol", "legs feel dead after leg day"])
def test_dead_legs_after_leg_day_is_not_an_emergency(engine, message):
    assert engine.answer(message).topic != "red_flag.emergency"


def test_why_shows_what_the_sign_model_read(engine):
    """/why and --explain name the sign the model found, its probability and the clause it read."""
    why = engine.explain("hip thrusts are fine, but my left leg keeps folding under me on the stairs")
    assert why.intent == "red_flag" and not why.red_flags  # no pattern saw it
    assert [(sign, piece) for sign, score, piece in why.signs if score >= engine.config.routing.sign_sure] == [
        ("weakness", "my left leg keeps folding under me on the stairs")]
    assert "sign model: weakness" in why.render()


def test_a_temperature_with_a_decimal_point_is_a_fever(engine):
    """The sentence splitter keeps "38.7" whole, so the number rule reads it."""
    assert engine.safety.screen("feeling hot, 38.7 this morning and the back is sore", engine.answer("hi").state).triage


@pytest.mark.parametrize("text", ["when should I worry about this back pain?", "do I need a scan for it?",
                                  "who do I see about this?"])
def test_when_to_worry_lists_every_tier_gravest_first(engine, text):
    """A question about warning signs, with no sign of one's own, gets the emergency signs first, then
    the see-a-doctor-today ones, then the article's, within 600 characters, and is not remembered."""
    reply = engine.answer(text)
    assert (reply.intent, reply.topic) == ("red_flag", "red_flag.general")
    emergency, urgent, professional = (reply.text.index(w) for w in ("emergency care now", "doctor today",
                                                                        "physical therapist"))
    assert emergency < urgent < professional
    assert "bladder" in reply.text and "both legs" in reply.text and len(reply.text) <= 600
    assert reply.state.red_flags == ()


def test_an_emergency_sign_needs_less_certainty_than_the_others(engine):
    """A likely emergency sign is never left to the 'watch for these' line: it gets the guidance."""
    from bot._understanding import Reading, SignHit

    routing = engine.config.routing
    between = (routing.sign_sure_emergency + routing.sign_sure) / 2
    assert routing.sign_maybe <= routing.sign_sure_emergency < routing.sign_sure

    def read(sign: str) -> Reading:
        return Reading(engine.reader.encoder.encode(["x"])[0], (SignHit(sign, between, "x"),))

    assert engine.safety.from_reading(read("bladder_bowel"), State()).topic == "red_flag.emergency"
    assert engine.safety.from_reading(read("rest_pain"), State()) is None
    assert engine.safety.unsure(read("rest_pain")) == ("rest_pain",)


def test_a_sure_graver_sign_raises_the_tier_the_rules_found(engine):
    """The rules read a dragging foot (see a doctor); the sign model, sure of weakness in both legs, makes it
    an emergency. Less sure, it stays the rules' tier."""
    from bot._understanding import Reading, SignHit

    triage = engine.safety.screen("my right foot drags when i walk now", State()).triage
    assert triage is not None and engine.safety.tier(triage.topic) == "urgent"
    sure, unsure = engine.config.routing.sign_graver, engine.config.routing.sign_sure_emergency

    def read(score: float) -> Reading:
        return Reading(engine.reader.encoder.encode(["x"])[0], (SignHit("both_legs", score, "x"),))

    assert engine.safety.with_reading(triage, read(sure), State()).topic == "red_flag.emergency"
    assert engine.safety.with_reading(triage, read(unsure), State()).topic == "red_flag.urgent"
