"""Answers people can read: short, action first for red flags, never repeated, every suggestion answerable."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from _drivers import chat
from bot import Reply, State
from bot.repl import wrap

QUESTIONS = [
    "why does my lower back hurt on hip thrusts?", "how do I fix it", "what muscles does the hip thrust work",
    "tldr of the article", "how high should the bench be", "where should the pad sit", "hi", "thanks",
    "how many sets should I do", "when should I see a professional?", "could tight hips be it",
    "my back is killing me after thrusts, is my form bad or is it the machine, I'm 5'2 and the pad sits weird",
]
RED_FLAGS = {  # message -> what the first sentence must tell the user to do
    "I can't feel my saddle area and I wet myself after thrusts": "emergency",
    "back pain with a fever and night sweats since my session": "doctor",
    "pain shoots down my leg on every rep": "physical therapist",
    "my foot tingles and my leg feels weak": "physical therapist",
}


def test_replies_fit_a_phone_screen_unless_everything_is_asked_for(engine, converse) -> None:
    for question in QUESTIONS + [engine.composer.ask_about(t) for t in engine.config.topics]:
        assert len(engine.answer(question).text) <= 900, question
    overview, everything = converse("why does my back hurt on hip thrusts?", "give me the full list of causes")
    assert len(everything.text) > 900 and everything.topic == overview.topic == "cause.general"
    assert "compressive stress on the lumbar spine" in everything.text  # every passage, not the one-line gists


def test_an_overview_is_one_line_per_cause_with_its_gist(engine) -> None:
    reply = engine.answer("why does my lower back hurt on hip thrusts?")
    bullets = [line for line in reply.text.split("\n") if line.startswith("• ")]
    assert len(bullets) == len(engine.composer.children("cause.general")) >= 8
    assert all(": " in line and len(line.split(": ", 1)[1]) > 10 for line in bullets)  # no bare headings
    assert not reply.text.startswith(("Here's", "From the article"))  # the answer itself comes first


@pytest.mark.parametrize(("message", "action"), RED_FLAGS.items())
def test_red_flag_replies_lead_with_the_action_and_stay_short(engine, message: str, action: str) -> None:
    reply = engine.answer(message)
    first_sentence = reply.text.split(". ")[0]
    assert reply.intent == "red_flag" and action in first_sentence.lower()
    assert len(reply.text) < 600
    assert not any("setup" in s.lower() or "picture" in s.lower() for s in reply.suggestions)


def test_never_the_same_text_twice_in_a_row(converse) -> None:
    messages = ["how many sets should I do"] * 3 + ["where should the pad sit?"] * 3 + ["pain shoots down my leg"] * 3
    messages += ["/diagram", "/diagram", "hi", "hi", "why does my back hurt on hip thrusts?"] * 2
    replies = converse(*messages)
    for before, after in zip(replies, replies[1:]):
        assert after.text != before.text, after.topic
    assert replies[-1].intent == "red_flag"  # the leg symptom still sticks


def test_what_else_walks_through_every_cause_then_says_so(engine, converse) -> None:
    causes = engine.composer.children("cause.general")
    replies = converse("why does my lower back hurt on hip thrusts?", *["what else?"] * (len(causes) + 1))
    walked = [r.topic for r in replies[1:-1]]
    assert walked == causes  # each cause once, in the article's order
    assert replies[-1].text.startswith("That's every one of the article's causes")
    assert all(engine.answer(s, replies[-1].state).intent in ("fix", "red_flag") for s in replies[-1].suggestions)


def test_every_topic_question_offered_leads_to_its_topic(engine) -> None:
    for topic, named in engine.config.topics.items():
        assert engine.answer(named.ask).topic == topic, named.ask


def test_every_offered_suggestion_gets_a_new_answer(engine) -> None:
    """Follow every suggestion three levels deep from many starts: never a greeting or a decline,
    never the reply just sent."""
    starts = QUESTIONS + ["/diagram", "/check", "my leg goes numb", "I lost control of my bladder", "/about",
                          "could my bench be too high"]
    queue: deque[tuple[str, State | None, Reply | None, int]] = deque((q, None, None, 0) for q in starts)
    visited: set[tuple[object, ...]] = set()
    followed = 0
    while queue:
        text, state, previous, depth = queue.popleft()
        reply = engine.answer(text, state)
        if previous is not None:
            followed += 1
            assert reply.text != previous.text, (previous.topic, text)
            assert reply.intent not in ("greeting", "out_of_scope"), (previous.topic, text, reply.topic)
        key = (reply.topic, reply.state.shown[-2:], reply.state.red_flags, reply.state.check_step, reply.suggestions)
        if depth < 3 and key not in visited:
            visited.add(key)
            queue.extend((s, reply.state, reply, depth + 1) for s in reply.suggestions)
    assert followed > 100


def test_the_repl_wraps_indents_and_explains_its_commands() -> None:
    text = chat("\n\n7\n/frobnicate\n/about\nwhy does my lower back hurt on hip thrusts?\n9\n", columns=60)
    flat = " ".join(text.split())
    assert "not medical advice" in " ".join(text.splitlines()[:2]).lower()  # the banner
    assert "There is no suggestion 7. Type a question." in flat
    assert "I don't know /frobnicate. Commands: /check /diagram /about /why /help /reset /quit" in flat
    assert "Jordan" in text  # /about
    assert "There is no suggestion 9. Pick 1 to 3, or type a question." in flat
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "  • Arching your lower back: the most prevalent cause" in text


def test_wrap_keeps_words_whole_and_indents_bullets() -> None:
    text = "• " + "word " * 30 + "\n\n1. a numbered choice that is long enough to wrap around the edge"
    wrapped = wrap(text, 40)
    assert all(len(line) <= 40 for line in wrapped.splitlines())
    assert wrapped.splitlines()[1].startswith("    word")  # hanging indent under the bullet
    assert "\n\n  1. a numbered" in wrapped and all(w == "word" for w in wrapped.split() if w.startswith("wor"))


def test_what_else_follows_the_list_the_conversation_is_in(converse) -> None:
    _, fix, more, cause, anything = converse("could my bench height be the problem?", "how do I fix that?",
                                             "what else?", "what else can cause it?", "anything else?")
    assert fix.topic == "fix.bench_height" and more.topic.startswith("fix.") and more.topic != fix.topic
    assert cause.topic.startswith("cause.") and cause.topic != "cause.bench_height"
    assert anything.topic.startswith("cause.") and anything.topic not in (cause.topic, "cause.bench_height")


def test_a_hedged_overview_still_fits(engine) -> None:
    """A question after an overview ("Did that answer it?...") shortens the list, not the limit."""
    reply = engine.answer("um my back kinda hurts after thrusts and i dont really know what is going on")
    assert reply.topic == "cause.general" and "Did that answer it?" in reply.text
    assert len(reply.text) <= 900
    assert reply.text.count("• ") == len(engine.composer.children("cause.general"))  # every cause still named


def test_wrap_counts_an_emoji_as_two_columns() -> None:
    line = "📖 From “Common Reasons for Back Pain During Hip Thrusts › Improper Machine Setup and Positioning”"
    assert all(len(row) + sum(ord(c) >= 0x1F000 for c in row) <= 80 for row in wrap(line, 80).splitlines())
    assert wrap("- a takeaway " + "word " * 20, 40).splitlines()[1].startswith("    word")  # "- " items indent too


def test_a_specific_question_with_what_other_is_answered_not_walked(engine) -> None:
    reply = engine.answer("what other exercises can I do so my back stops hurting on thrusts, core stuff maybe?")
    assert reply.topic == "fix.accessory_exercises" and not reply.text.startswith("Another one")


def test_what_else_in_gym_spelling_walks_too(converse) -> None:
    _, first, second = converse("how do i fix the pad", "wat els", "anythin else")
    assert first.text.startswith("Another one from the article") and second.text.startswith("Another one from")
    assert len({first.topic, second.topic, "fix.pad_position"}) == 3


def test_replies_never_open_with_a_guess_repeat_or_end_on_an_empty_heading(engine) -> None:
    """On real-style questions: no reply opens with a guess ("I think you're asking..."), none says
    "same answer" and none ends on a heading with nothing under it."""
    from bot.evaluate import load_cases

    cases = load_cases(Path(__file__).parent / "data" / "real_dev.yaml")
    replies = [engine.answer(case.text) for case in cases if case.conversation is None]
    assert len(replies) > 100
    assert not [r.text for r in replies if r.text.startswith("I think")]
    assert not [r.text for r in replies if "same answer" in r.text.lower()]
    assert not [r.text for r in replies if r.text.rstrip().endswith(":")]

