"""The guided back-pain check: red-flag screen, then a few questions that narrow down the cause.

The questions, choices and the cause-by-sign weights live in check.yaml; this module only
asks, understands answers (numbers, choice labels or free text) and ranks causes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from ._compose import Composer
from ._config import Checker, read_yaml
from ._model import Reply, Source, State
from ._text import normalize

SKIPPED = "skipped"
EVIDENCE = "said:"  # answers recorded as ("said:<cause>", the pattern's own words that pointed to it)
GAP = " … "  # between runs of the pattern's own words in a recorded answer
SCREEN = "screen"
LABEL_MATCH = 80.0
UNRELATED = 0.1  # relative chance of an answer that points to other causes
YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "y", "sure", "definitely"})
NO_WORDS = frozenset({"no", "nope", "nah", "n", "never"})


@dataclass(frozen=True)
class Choice:
    label: str
    weights: dict[str, float]
    says: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    choices: tuple[Choice, ...]


@dataclass(frozen=True)
class CheckSpec:
    """check.yaml, checked and compiled."""

    max_questions: int
    start: re.Pattern[str]
    cancel: re.Pattern[str]
    skip: re.Pattern[str]  # "idk", "not sure": skip the question
    priors: dict[str, float]
    messages: dict[str, str]
    screen_yes: re.Pattern[str]
    screen_no: re.Pattern[str]
    screen_choices: tuple[str, ...]
    questions: tuple[Question, ...]
    evidence: dict[str, tuple[re.Pattern[str], ...]]  # cause -> what a free-text answer says that points to it
    evidence_weight: float


@dataclass(frozen=True)
class Step:
    """What the check says next: a question, the result, or that it ended (cancelled / red flag)."""

    state: State
    question: str | None = None  # question id being asked
    ranked: tuple[tuple[str, float, tuple[str, ...]], ...] = ()  # (cause, score, answers that pointed to it)
    cancelled: bool = False
    red_flag: bool = False
    repeat: bool = False
    skipped: bool = False
    understood: tuple[str, ...] = ()  # what this turn's answer was taken to say, in the user's terms


_KEYS = ("version", "max_questions", "start", "cancel", "skip", "priors", "messages", "screen", "questions",
         "evidence", "evidence_weight")
_MESSAGES = ("intro", "screen", "again", "skipped", "understood", "cancelled", "result", "because", "said", "fix",
             "section")


def load_check(path: Path) -> CheckSpec:
    """Read check.yaml; problems are DataErrors naming the file, the place and the problem."""
    check = Checker(str(path))
    data = check.typed(read_yaml(path), dict, "top level")
    check.keys(data, _KEYS, "", required=tuple(k for k in _KEYS if k not in ("evidence", "evidence_weight")))
    if data["version"] != 1:
        raise check.fail("version", "expected version: 1")
    messages = check.typed(data["messages"], dict, "messages")
    check.keys(messages, _MESSAGES, "messages", required=_MESSAGES)
    for key in _MESSAGES:
        check.typed(messages[key], str, f"messages.{key}")
    screen = check.typed(data["screen"], dict, "screen")
    check.keys(screen, ("said_yes", "said_no", "choices"), "screen", required=("said_yes", "said_no", "choices"))
    return CheckSpec(
        max_questions=check.typed(data["max_questions"], int, "max_questions"),
        start=check.pattern(data["start"], "start"),
        cancel=check.pattern(data["cancel"], "cancel"),
        skip=check.pattern(data["skip"], "skip"),
        priors=_weights(data["priors"], "priors", check),
        messages=messages,
        screen_yes=check.pattern(screen["said_yes"], "screen.said_yes"),
        screen_no=check.pattern(screen["said_no"], "screen.said_no"),
        screen_choices=check.strings(screen["choices"], "screen.choices"),
        questions=tuple(_question(q, f"questions[{i}]", check)
                        for i, q in enumerate(check.typed(data["questions"], list, "questions"))),
        evidence={str(cause): check.patterns(patterns, f"evidence.{cause}")
                  for cause, patterns in check.typed(data.get("evidence", {}), dict, "evidence").items()},
        evidence_weight=float(check.typed(data.get("evidence_weight", 0), (int, float), "evidence_weight")),
    )


def _question(raw: Any, place: str, check: Checker) -> Question:
    check.keys(check.typed(raw, dict, place), ("id", "text", "choices"), place, required=("id", "text", "choices"))
    choices = []
    for j, choice in enumerate(check.typed(raw["choices"], list, f"{place}.choices")):
        where = f"{place}.choices[{j}]"
        check.keys(check.typed(choice, dict, where), ("label", "weights", "says"), where, required=("label",))
        choices.append(Choice(label=check.typed(choice["label"], str, f"{where}.label"),
                              weights=_weights(choice.get("weights", {}), f"{where}.weights", check),
                              says=check.patterns(choice.get("says", []), f"{where}.says")))
    return Question(check.typed(raw["id"], str, f"{place}.id"), check.typed(raw["text"], str, f"{place}.text"),
                    tuple(choices))


def _weights(raw: Any, place: str, check: Checker) -> dict[str, float]:
    return {str(cause): float(check.typed(weight, (int, float), f"{place}.{cause}"))
            for cause, weight in check.typed(raw, dict, place).items()}


class GuidedCheck:
    """Runs the check as a mode of the conversation state."""

    def __init__(self, spec: CheckSpec) -> None:
        self.spec = spec
        self.questions = {q.id: q for q in spec.questions}
        self._vocabulary = {cause: frozenset(w for p in patterns for w in _pattern_words(p.pattern))
                            for cause, patterns in spec.evidence.items()}
        self._stems = {cause: frozenset(w for p in patterns for w in re.findall(r"([a-z]+)\\w[*+]", p.pattern.lower()))
                       for cause, patterns in spec.evidence.items()}

    def reply(self, step: Step, composer: Composer) -> Reply:
        """The check's turn as a reply: the next question, the ranked causes, or that it stopped."""
        state = replace(step.state, turns=step.state.turns + 1)
        messages = self.spec.messages
        if step.question is not None:
            choices = self.choices(step.question)
            opening = messages["again"] if step.repeat else messages["skipped"] if step.skipped else \
                messages["intro"] if step.question == SCREEN else self._understood(step)
            numbered = "\n".join(f"{n}. {label}" for n, label in enumerate(choices, start=1))
            text = "\n\n".join(filter(None, (opening, self.prompt(step.question), numbered)))
            return Reply("check", f"check.{step.question}", text, (), 1.0, choices, state)
        if step.cancelled:
            return Reply("greeting", "greeting.check_cancelled", messages["cancelled"], (), 1.0,
                         composer.suggestions("greeting"), state)
        top, total = step.ranked[0][0], sum(score for _, score, _ in step.ranked)
        sources = tuple(Source(cause, composer.headline(cause), round(score / total, 3))
                        for cause, score, _ in step.ranked)
        return Reply("cause", top, self._result(step.ranked, composer), sources, step.ranked[0][1] / total,
                     composer.suggestions("cause"), replace(state, topic=top, intent="cause"))

    def _understood(self, step: Step) -> str:
        """ "Got it: ..." for what the last answer was taken to say (nothing when it said nothing new)."""
        if not step.understood:
            return ""
        return self.spec.messages["understood"].format(answers="; ".join(step.understood))

    def _result(self, ranked: tuple[tuple[str, float, tuple[str, ...]], ...], composer: Composer) -> str:
        """The likely causes, each with what pointed to it (only the user's own picks and words) and
        the article's first step to fix it, naming the section to read."""
        messages = self.spec.messages
        parts = [messages["result"]]
        for n, (cause, _, reasons) in enumerate(ranked, start=1):
            lines = [f"{n}. {composer.label(cause)}: {composer.summary(cause)}"]
            fix = composer.config.pairs.get(cause)
            if fix in composer.by_topic:
                lines.append(f"{messages['fix']} ({composer.label(fix)}): {composer.summary(fix)} "
                             + messages["section"].format(heading=composer.headline(fix)))
            if reasons:
                lines.append(f"({messages['because']}: " + "; ".join(_lower_first(r) for r in reasons) + ")")
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def wants_to_start(self, said: str) -> bool:
        """Whether a normalised message asks for the check."""
        return bool(self.spec.start.search(said))

    def start(self, state: State) -> Step:
        return Step(replace(state, check_step=SCREEN, check_answers=(), check_retry=False), question=SCREEN)

    def choices(self, question: str) -> tuple[str, ...]:
        """The quick replies offered for a question."""
        if question == SCREEN:
            return self.spec.screen_choices
        return tuple(c.label for c in self.questions[question].choices)

    def prompt(self, question: str) -> str:
        return self.spec.messages["screen"] if question == SCREEN else self.questions[question].text

    def step(self, said: str, state: State) -> Step:
        """Take the (normalised) answer to the pending question and decide what comes next
        (the engine has already screened it for red flags)."""
        if self.spec.cancel.search(said):
            return Step(_leave(state), cancelled=True)
        pending = state.check_step
        assert pending is not None, "step() is only called while the check is asking"
        if pending == SCREEN:
            return self._screen(said, state)
        answers = dict(state.check_answers)
        picked = self._pick(said, pending)
        if picked is not None:  # a number or a choice's own words: nothing more to read in it
            found = {pending: picked}
        else:
            found = {q: c for q, c in self._free_text(said).items() if q not in answers}
        if pending not in found and self.spec.skip.search(said):
            found[pending] = SKIPPED  # "idk", "not sure"
        if pending not in found and not found:
            if not state.check_retry:
                return Step(replace(state, check_retry=True), question=pending, repeat=True)
            found[pending] = SKIPPED  # asked twice: move on without it
        evidence = self._evidence(said, answers) if picked is None else {}
        understood = tuple(f"“{label}”" for label in found.values() if label != SKIPPED) + tuple(
            f"{self.spec.messages['said']} “{words}”" for words in evidence.values())  # shown now, not kept
        answers.update(found)
        answers.update({key: self._recorded(key.removeprefix(EVIDENCE), words) for key, words in evidence.items()})
        step = self._next(replace(state, check_answers=tuple(answers.items()), check_retry=False),
                          skipped=found.get(pending) == SKIPPED)
        return replace(step, understood=understood)

    def _screen(self, said: str, state: State) -> Step:
        if self.spec.screen_yes.search(said) or said.strip() == "1":
            return Step(_leave(state), red_flag=True)
        if self.spec.screen_no.search(said):
            return self._next(replace(state, check_answers=((SCREEN, "no"),), check_retry=False))
        if not state.check_retry:
            return Step(replace(state, check_retry=True), question=SCREEN, repeat=True)
        return Step(_leave(state), red_flag=True)  # unsure about the warning signs: safety first

    def sanitize(self, state: State) -> State:
        """Leave a check whose pending question no longer exists (check.yaml changed since); keep only
        the evidence patterns' own words of an answer recorded by an earlier version (never free text)."""
        answers = tuple((qid, self._recorded(qid.removeprefix(EVIDENCE), label) if qid.startswith(EVIDENCE) else label)
                        for qid, label in state.check_answers)
        if answers != state.check_answers:
            state = replace(state, check_answers=answers)
        if state.check_step is None or state.check_step == SCREEN or state.check_step in self.questions:
            return state
        return replace(state, check_step=None, check_answers=(), check_retry=False)

    def _recorded(self, cause: str, words: str) -> str:
        """What is kept of the words that pointed to `cause`: only those the cause's evidence patterns
        spell out themselves ("pad … belly" of "pad sits on my belly"), so no free text (a name, a
        number) caught between them is stored with the conversation."""
        vocabulary, stems = self._vocabulary.get(cause, frozenset()), self._stems.get(cause, frozenset())
        runs: list[list[str]] = [[]]
        for word in words.split():
            plain = word.strip(".,!?;:\"'()")
            if plain and (plain in vocabulary or plain + "s" in vocabulary or plain.removesuffix("s") in vocabulary
                          or plain.replace("'", "") in vocabulary or any(plain.startswith(v) for v in stems)):
                runs[-1].append(plain)
            elif runs[-1]:
                runs.append([])
        return GAP.join(" ".join(run) for run in runs if run)

    def is_choice(self, said: str, question: str) -> bool:
        """Whether a normalised message picks one of the question's offered choices."""
        return self._pick(said, question) is not None

    def _pick(self, said: str, question: str) -> str | None:
        """A choice by number, by a plain yes or no, or by (fuzzy) label."""
        labels = self.choices(question)
        if said.isdigit() and 1 <= int(said) <= len(labels):
            return labels[int(said) - 1]
        word = said.strip(" .!").split(" ", 1)[0] if said else ""
        for reply, words in (("yes", YES_WORDS), ("no", NO_WORDS)):
            if word in words and question != SCREEN:
                return next((label for label in labels if normalize(label).startswith(reply)), None)
        match = process.extractOne(said, [normalize(label) for label in labels], scorer=fuzz.ratio,
                                   score_cutoff=LABEL_MATCH)
        return labels[match[2]] if match else None

    def _free_text(self, said: str) -> dict[str, str]:
        """Every question a free-text answer speaks to, with the choice it speaks for."""
        found = {}
        for question in self.spec.questions:
            for choice in question.choices:
                if any(p.search(said) for p in choice.says):
                    found[question.id] = choice.label
                    break
        return found

    def _evidence(self, said: str, answers: dict[str, str]) -> dict[str, str]:
        """Causes a free-text answer names outright ("the pad sits on my belly"), with the words."""
        found = {}
        for cause, patterns in self.spec.evidence.items():
            key = EVIDENCE + cause
            match = next((m for p in patterns for m in [p.search(said)] if m), None)
            if match and key not in answers:
                found[key] = match.group()
        return found

    def scores(self, answers: dict[str, str]) -> dict[str, float]:
        scores = dict(self.spec.priors)
        for qid, label in answers.items():
            for cause, weight in self._weights(qid, label).items():
                scores[cause] = scores.get(cause, 0.0) + weight
        return scores

    def _weights(self, qid: str, label: str) -> dict[str, float]:
        if qid.startswith(EVIDENCE):
            return {qid.removeprefix(EVIDENCE): self.spec.evidence_weight}
        question = self.questions.get(qid)
        choice = next((c for c in question.choices if c.label == label), None) if question else None
        return choice.weights if choice else {}

    def _said(self, recorded: str) -> str:
        """A recorded answer as a reason in the result: “you said “pad” … “belly”"."""
        return f"{self.spec.messages['said']} {_quoted(recorded)}" if recorded else self.spec.messages["said"] + " so"

    def _next(self, state: State, skipped: bool = False) -> Step:
        answers = dict(state.check_answers)
        asked = [q for q in answers if q != SCREEN and not q.startswith(EVIDENCE)]
        remaining = [q for q in self.spec.questions if q.id not in answers]
        if remaining and len(asked) < self.spec.max_questions:
            best = min(remaining, key=lambda q: self._expected_entropy(answers, q))
            if self._expected_entropy(answers, best) < _entropy(self.scores(answers)) - 1e-9:
                return Step(replace(state, check_step=best.id, check_retry=False), question=best.id, skipped=skipped)
        return Step(_leave(state), ranked=self._ranked(answers), skipped=skipped)

    def _expected_entropy(self, answers: dict[str, str], question: Question) -> float:
        """Uncertainty over causes left after this question, each answer weighted by how likely
        the causes it points to are now (so questions about unlikely causes wait)."""
        belief = _softmax(self.scores(answers))
        likelihood = [0.0] * len(question.choices)
        neutral = [not any(w > 0 for w in choice.weights.values()) for choice in question.choices]
        for cause, p in belief.items():  # P(answer) = sum over causes of P(cause) * P(answer | cause)
            # An answer that points elsewhere is unlikely for this cause; a neutral one is not.
            given = [math.exp(c.weights.get(cause, 0.0)) * (1.0 if c.weights.get(cause, 0.0) > 0 or n else UNRELATED)
                     for c, n in zip(question.choices, neutral)]
            for k, g in enumerate(given):
                likelihood[k] += p * g / sum(given)
        return sum(p * _entropy(self.scores({**answers, question.id: choice.label}))
                   for p, choice in zip(likelihood, question.choices))

    def _ranked(self, answers: dict[str, str]) -> tuple[tuple[str, float, tuple[str, ...]], ...]:
        scores = self.scores(answers)
        top = max(scores.values())
        ranked = sorted((c for c in scores if scores[c] >= max(0.5 * top, 1e-9)), key=scores.__getitem__,
                        reverse=True)[:3]
        return tuple(
            (cause, scores[cause], tuple(
                self._said(label) if qid.startswith(EVIDENCE) else label
                for qid, label in answers.items() if self._weights(qid, label).get(cause, 0) > 0))
            for cause in ranked
        )


def _pattern_words(pattern: str) -> list[str]:
    """The words a pattern spells out (`\\b(pad|belt)\\b[^.]{0,30}\\b(belly)` -> pad, belt, belly)."""
    return [w for w in re.findall(r"[a-z]{2,}", re.sub(r"\\[A-Za-z]", " ", pattern.lower()))]


def _quoted(recorded: str) -> str:
    """A recorded answer's runs of words, each in quotes: “pad” … “belly”."""
    return GAP.join(f"“{run}”" for run in recorded.split(GAP) if run)


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    peak = max(scores.values())
    weights = {c: math.exp(s - peak) for c, s in scores.items()}
    total = sum(weights.values())
    return {c: w / total for c, w in weights.items()}


def _entropy(scores: dict[str, float]) -> float:
    """Entropy of the softmax over cause scores: how undecided the check still is."""
    return -sum(p * math.log(p) for p in _softmax(scores).values() if p > 0)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _leave(state: State) -> State:
    return replace(state, check_step=None, check_retry=False)
