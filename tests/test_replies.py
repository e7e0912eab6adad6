"""Replies a physiotherapist would sign, checked on the real engine: ask instead of guessing, send a
person back to the care they already have, and keep every reply free of loops and empty headings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import Engine
from bot.evaluate import load_cases

REAL_SETS = [Path(__file__).parent / "data" / name for name in ("real_dev.yaml", "heldout_real.yaml",
                                                                  "heldout_real_2.yaml", "real_fresh.yaml")]
GUESSES = ("I think you're asking", "I think you mean", "Same answer as a moment ago")


def test_a_vague_message_gets_a_question_with_choices_not_a_guess(engine: Engine) -> None:
    reply = engine.answer("the thing with my hips")
    assert reply.confidence < engine.config.routing.ask_below
    assert reply.text == engine.config.replies["clarify"] and reply.sources == ()
    assert len(reply.suggestions) >= 2 and all(s.endswith("?") for s in reply.suggestions)


def test_a_chosen_question_is_then_answered_from_the_article(engine: Engine) -> None:
    first = engine.answer("the thing with my hips")
    answer = engine.answer(first.suggestions[0], first.state)
    assert answer.intent in ("cause", "fix", "about") and answer.sources
    assert answer.text != engine.config.replies["clarify"]


def test_a_general_question_gets_the_overview_even_when_unsure(engine: Engine) -> None:
    """The overview is not a guess: a broad question is never asked to narrow itself first."""
    reply = engine.answer("is it my form?")
    assert reply.topic == "cause.general" and reply.sources


@pytest.mark.parametrize("message", [
    "my physio is treating me for it, and now a burning pain runs down the back of my thigh on thrusts",
    "I'm already seeing my GP about my back, since last week pain shoots down my leg on thrusts",
])
def test_care_they_already_have_is_acknowledged(engine: Engine, message: str) -> None:
    reply = engine.answer(message)
    assert reply.intent == "red_flag"
    assert reply.text.startswith(engine.config.replies["in_care"])


def test_back_surgery_they_had_sends_them_to_their_surgeon_first(engine: Engine) -> None:
    reply = engine.answer("two years after my lumbar fusion, a sharp pain now shoots down my right leg on thrusts")
    assert reply.intent == "red_flag" and reply.text.startswith(engine.config.replies["operated"])
    assert engine.config.replies["operated"] not in engine.answer("a sharp pain shoots down my right leg").text


def test_an_emergency_still_opens_with_getting_care_now(engine: Engine) -> None:
    reply = engine.answer("I'm already seeing a physio, and since thrusts I can't feel the toilet paper when I wipe")
    assert reply.topic == "red_flag.emergency"
    assert reply.text.startswith("🚨") and engine.config.replies["in_care"] not in reply.text


def test_no_care_mentioned_no_acknowledgement(engine: Engine) -> None:
    reply = engine.answer("pain shoots down my leg on thrusts")
    assert reply.intent == "red_flag" and engine.config.replies["in_care"] not in reply.text


def test_a_lone_surrogate_is_read_not_crashed_on(engine: Engine) -> None:
    assert engine.answer("my back hurts on thrusts \udc80 why").intent == "cause"


def _conversations() -> list[list[str]]:
    """Every message of the real-question sets, one conversation per labelled conversation."""
    talks: list[list[str]] = []
    for path in REAL_SETS:
        cases = load_cases(path)
        by_talk: dict[str, list[str]] = {}
        for case in cases:
            by_talk.setdefault(case.conversation or case.id, []).append(case.text)
        talks += by_talk.values()
    return talks


def test_no_reply_opens_with_a_guess_repeats_itself_or_ends_on_an_empty_heading(engine: Engine) -> None:
    """A heading ("Closest topics I can help with:") ends a text only with the suggestions it heads."""
    talks = _conversations()
    assert len(talks) > 400
    for talk in talks:
        state = None
        for message in talk:
            reply = engine.answer(message, state)
            state = reply.state
            assert not reply.text.startswith(GUESSES), (message, reply.text[:80])
            assert "Same answer" not in reply.text, message
            assert reply.suggestions or not reply.text.rstrip().endswith(":"), (message, reply.text[-80:])


def test_the_checks_result_names_the_section_of_each_fix(converse) -> None:
    """Arching points to the range-of-motion fix: the reader is told which section of the article to read."""
    replies = converse("/check", "no, none of those", "it hurts right at the top when I lock out",
                       "shins vertical, feet hip-width apart", "light", "no", *["1"] * 6)
    result = next(r for r in replies[2:] if r.intent != "check")
    assert result.topic == "cause.lumbar_extension"
    assert "(in the article under Control the Range of Motion)" in result.text


def test_a_question_about_a_sign_in_general_is_not_told_what_it_describes(engine: Engine) -> None:
    """Restate only what was said: "can thrusts make your legs give out?" describes nobody's symptoms."""
    general = engine.answer("can hip thrusts make your legs give out")
    own = engine.answer("my left leg gives out after thrusts")
    assert general.intent == own.intent == "red_flag"
    assert "what you describe" not in general.text and general.text.startswith("⚠️ Weakness in a leg")
    assert "what you describe (weakness in a leg or foot)" in own.text


def test_asking_what_causes_a_sign_is_told_the_article_does_not_say(engine: Engine) -> None:
    """"Why do my feet go numb?" is not answered with causes of back pain, nor with "stop what provokes it"
    (sleep, for pain on waking): the article names the sign, not its cause, so it says so and refers."""
    for asked, sign in (("why do my feet go numb when I exercise?", "numbness or tingling in a leg or foot"),
                        ("what causes legs to give out", "weakness in a leg or foot"),
                        ("why does my lower back hurt after sleeping?", "back pain at rest or at night")):
        reply = engine.answer(asked)
        assert reply.intent == "red_flag", asked
        assert reply.text.startswith(f"⚠️ The article doesn't say what causes {sign}"), reply.text
        assert "physical therapist" in reply.text and "emergency care now" in reply.text.lower()
        assert "provokes" not in reply.text


def test_a_short_message_about_another_subject_is_not_read_as_more_of_the_last(converse) -> None:
    """"the thing with my hips" after the bench fix is about the hips, not the bench again."""
    *_, fix, hips = converse("Could my bench height be the problem?", "ok how do I fix that?", "the thing with my hips")
    assert fix.topic == "fix.bench_height"
    assert hips.topic != "fix.bench_height" and "bench" not in hips.text.lower()


def test_asking_again_about_what_was_just_answered_does_not_repeat_it(converse, engine: Engine) -> None:
    fix, again = converse("how high should the bench be?", "tell me more about that")
    assert fix.topic == again.topic == "fix.bench_height"
    assert fix.text.split("\n\n")[0] not in again.text  # the article's answer is not given twice
    assert again.text == engine.config.replies["still_on"].format(label="Bench height")
    assert again.suggestions and again.sources


def test_a_sign_reply_says_when_it_becomes_an_emergency_or_needs_a_doctor_today(engine: Engine) -> None:
    """The professional tier's guidance ends with the emergency safety net (both legs, saddle, bladder) and
    the see-a-doctor-today one (fever, weight loss, cancer), which matters most for pain at night."""
    for message in ("my left leg gives out after thrusts", "what causes legs to give out",
                    "my back aches at night after thrusts and wakes me up"):
        text = engine.answer(message).text.lower()
        assert "both legs" in text and "bladder or bowel" in text and "emergency care now" in text
        assert "doctor today" in text and "fever" in text


def test_a_goodbye_is_answered_as_one_without_a_list_of_topics(engine: Engine) -> None:
    reply = engine.answer("Good luck.")
    assert reply.intent == "greeting"
    assert engine.config.replies["closest"] not in reply.text


def test_a_story_ending_in_a_how_question_gets_the_fix(engine: Engine) -> None:
    """The closing question decides why or how, not a 'because' earlier in the story."""
    sleepy = engine.answer("My physio explained why my lower back aches: my glutes are sleepy and my back takes "
                           "over. How can I wake them up?")
    arching = engine.answer("Figured out the cause of my back pain on the machine: I arch at the top. How do I stop "
                            "doing that?")
    assert (sleepy.topic, arching.topic) == ("fix.glute_activation", "fix.range_of_motion")


def test_a_message_in_another_language_still_hears_when_to_get_emergency_care(engine: Engine) -> None:
    reply = engine.answer("me duele mucho la espalda y ya no siento bien las piernas desde ayer")
    assert reply.topic == "out_of_scope.other_language"
    assert "emergency care now" in reply.text and "bladder or bowel" in reply.text


@pytest.mark.parametrize("message", ["is it safe to keep training with my bulging disc?",
                                     "is the hip thrust ok for someone with spondylolisthesis"])
def test_a_safety_question_about_a_known_condition_gets_that_section_and_who_to_ask(engine: Engine,
                                                                                   message: str) -> None:
    """Not the general fix list, which would read as 'carry on'; the topic's `after` note names who decides."""
    reply = engine.answer(message)
    assert reply.topic == "cause.preexisting_condition"
    assert engine.config.topics[reply.topic].after in reply.text


def test_asking_for_causes_and_prevention_at_once_starts_with_the_causes(engine: Engine) -> None:
    assert engine.answer("back pain on the glute thrust machine: causes and prevention").topic == "cause.general"


@pytest.mark.parametrize("message", ["when should I worry about my back after thrusts?",
                                     "at what point do I stop and get my back looked at"])
def test_when_to_worry_lists_every_tier_gravest_first_on_one_screen(engine: Engine, message: str) -> None:
    reply = engine.answer(message)
    assert reply.topic == "red_flag.general" and len(reply.text) <= 600
    tiers = [engine.config.tiers[name]["asked"] for name in ("emergency", "urgent", "professional")]
    assert [reply.text.index(line) for line in tiers] == sorted(reply.text.index(line) for line in tiers)
    assert "bladder" in reply.text and "both legs" in reply.text


def test_thanks_ahead_of_a_request_asks_what_happens_instead_of_youre_welcome(engine: Engine) -> None:
    assert engine.answer("thanks in advance for any tips!").text == engine.config.replies["thanks_ahead"]
    assert engine.answer("thanks a lot!").text == engine.config.replies["greeting.thanks"]


def test_a_sign_the_model_reads_next_to_a_rules_sign_of_the_same_tier_is_named_too(engine: Engine) -> None:
    """Restate what was said: a duration the rules read does not hide the leg weakness told beside it."""
    reply = engine.answer("my back has hurt for six weeks, and now my left leg can barely push anything on "
                          "single-leg press while the right is fine")
    assert reply.intent == "red_flag" and "weakness in a leg or foot" in reply.text


def test_a_question_asking_why_and_how_gets_each_cause_beside_its_fix(engine: Engine) -> None:
    """"Causes and prevention" is two questions: not the fix list alone, with the causes left for later."""
    both = engine.answer("what causes back pain on the hip thrust machine and how can I prevent it?")
    assert both.intent == "cause"  # a list of the causes, each with its fix
    assert "• Too much weight → Lighter weight: perfect form over heavy weight" in both.text
    assert "The machine itself →" not in both.text  # its paired fix (the pad) is the pad position's own
    assert both.text.index("Also among its fixes:") < both.text.index("• Control the lowering")
    assert "“Common Reasons for Back Pain During Hip Thrusts”" in both.text
    assert "“Corrective Strategies and Proper Technique”" in both.text
    one = engine.answer("why does arching my back hurt and how do I stop it?")
    assert one.topic == "cause.lumbar_extension"
    assert "How to fix it: Stop at full hip extension: hips in line with knees and shoulders, no arching." in one.text
    why_only = engine.answer("why does arching my back hurt?")
    assert "How to fix it:" not in why_only.text
    how_only = engine.answer("how do I stop my lower back taking over on the machine?")
    assert how_only.intent == "fix" and "each with its fix" not in how_only.text


def test_a_claim_that_asks_nothing_is_told_the_cause_quoted_is_one_of_several(engine: Engine) -> None:
    """"It's all in your glutes" gets the glute passage, and that the article lists it among others, so the
    passage does not read as agreement; a question about that cause gets the passage alone."""
    claim = engine.answer("lower back pain on thrusts is all about lazy glutes.")
    asked = engine.answer("could lazy glutes be why my back hurts?")
    assert claim.topic == asked.topic == "cause.glute_activation"
    causes = len(engine.composer.children("cause.general"))
    assert claim.text.endswith(f"That's one of the {causes} causes the article lists.")
    assert "causes the article lists" not in asked.text


def test_an_out_of_scope_question_from_someone_in_pain_ends_with_the_signs_to_watch(engine: Engine) -> None:
    """Declining the ibuprofen question is right; the person who hurt their back still hears what to watch for."""
    hurt = engine.answer("I hurt my back squatting on friday, should I take ibuprofen for it?")
    calm = engine.answer("should I take ibuprofen before the gym?")
    assert hurt.intent == calm.intent == "out_of_scope"
    assert hurt.text.endswith(engine.config.replies["watch_signs"])
    assert engine.config.replies["watch_signs"] not in calm.text
