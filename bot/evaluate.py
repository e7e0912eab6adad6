"""Score the bot on a labelled set (the schema of shared eval files): items and conversations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._errors import DataError
from ._model import INTENTS, Answer, State


@dataclass(frozen=True)
class Case:
    """One labelled message; `conversation` groups turns that share state."""

    id: str
    text: str
    intent: str
    topic: str
    evidence: tuple[str, ...]
    conversation: str | None = None


@dataclass(frozen=True)
class Outcome:
    case: Case
    intent: str
    topic: str
    grounded: bool
    confidence: float = 0.0

    @property
    def topic_only_miss(self) -> bool:
        """Right intent and grounded, but another section than the labelled one."""
        expected = self.case.topic
        return self.correct and "." in expected and not (self.topic == expected
                                                         or self.topic.startswith(expected + "."))

    @property
    def correct(self) -> bool:
        """Intent matches and, where evidence is given, the reply contains one piece of it."""
        return self.intent == self.case.intent and self.grounded


@dataclass
class Scores:
    """Everything `hipbot eval` reports."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return _ratio(sum(o.correct for o in self.outcomes), len(self.outcomes))

    @property
    def topic_accuracy(self) -> float:
        return _ratio(sum(o.topic == o.case.topic or o.topic.startswith(o.case.topic + ".") for o in self.outcomes),
                      len(self.outcomes))

    @property
    def red_flag_recall(self) -> float:
        flagged = [o for o in self.outcomes if o.case.intent == "red_flag"]
        return _ratio(sum(o.intent == "red_flag" for o in flagged), len(flagged))

    @property
    def false_escalation(self) -> float:
        """Share of messages that are not red flags but got the red-flag reply."""
        calm = [o for o in self.outcomes if o.case.intent != "red_flag"]
        return _ratio(sum(o.intent == "red_flag" for o in calm), len(calm))

    @property
    def accuracy_or_none(self) -> float | None:
        """Accuracy, or None (n/a) for a set without items."""
        return self.accuracy if self.outcomes else None

    @property
    def red_flag_recall_or_none(self) -> float | None:
        """Red-flag recall, or None (n/a) when no item is labelled red_flag: nothing to recall."""
        return self.red_flag_recall if any(o.case.intent == "red_flag" for o in self.outcomes) else None

    @property
    def false_escalation_or_none(self) -> float | None:
        """False escalation, or None (n/a) when every item is labelled red_flag."""
        return self.false_escalation if any(o.case.intent != "red_flag" for o in self.outcomes) else None

    @property
    def content_leaks(self) -> list[Outcome]:
        """out_of_scope or greeting items that were answered with article content."""
        return [o for o in self.outcomes if o.case.intent in ("out_of_scope", "greeting")
                and o.intent not in ("out_of_scope", "greeting")]

    def per_intent(self) -> dict[str, tuple[float, float, float, int]]:
        """Precision, recall, F1 and support of each intent."""
        return _per_label([(o.case.intent, o.intent) for o in self.outcomes], INTENTS)

    def per_topic(self) -> dict[str, tuple[float, float, float, int]]:
        """Precision, recall, F1 and support of each labelled topic (a reply in a sub-topic of the label counts)."""
        labels = sorted({o.case.topic for o in self.outcomes})
        pairs = [(o.case.topic, o.case.topic if o.topic == o.case.topic or o.topic.startswith(o.case.topic + ".")
                  else o.topic) for o in self.outcomes]
        return _per_label(pairs, labels)

    def tiers(self) -> dict[str, tuple[int, int]]:
        """For the emergency and urgent red-flag topics: (answered in that topic, labelled)."""
        table = {}
        for topic in ("red_flag.emergency", "red_flag.urgent"):
            labelled = [o for o in self.outcomes if o.case.topic == topic]
            if labelled:
                table[topic] = (sum(o.topic == topic and o.grounded for o in labelled), len(labelled))
        return table

    def reliability(self, bins: int = 5) -> list[tuple[float, float, int, float]]:
        """Confidence bins: (low, high, replies in the bin, share of them correct)."""
        rows = []
        for b in range(bins):
            low, high = b / bins, (b + 1) / bins
            inside = [o for o in self.outcomes if low <= o.confidence < high or (b == bins - 1 and o.confidence >= 1.0)]
            rows.append((low, high, len(inside), _ratio(sum(o.correct for o in inside), len(inside))))
        return rows

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter((o.case.intent, o.intent) for o in self.outcomes)


def _per_label(pairs: list[tuple[str, str]], labels: Iterable[str]) -> dict[str, tuple[float, float, float, int]]:
    """Precision, recall, F1 and support per label, from (expected, answered) pairs."""
    table = {}
    for label in labels:
        tp = sum(got == label and want == label for want, got in pairs)
        predicted = sum(got == label for _, got in pairs)
        support = sum(want == label for want, _ in pairs)
        if predicted or support:
            p, r = _ratio(tp, predicted), _ratio(tp, support)
            table[label] = (p, r, _ratio(2 * p * r, p + r), support)
    return table


def check_topics(cases: Iterable[Case], known: frozenset[str], path: Path) -> None:
    """DataError naming the first item whose topic hipbot cannot answer with (a typo, a renamed section)."""
    for case in cases:
        if case.topic not in known:
            raise DataError(str(path), case.id,
                            f"unknown topic {case.topic!r} (not a section, reply or rule of hipbot)")


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _share(value: float | None, width: int = 0) -> str:
    """A percentage, or "n/a" for a category with no items."""
    return f"{'n/a' if value is None else format(value, '.1%'):>{width}}"


def load_cases(path: Path) -> list[Case]:
    """Items and conversation turns of an eval file, in order."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(str(path), "", f"cannot read eval set ({exc.strerror or exc.__class__.__name__})") from None
    except UnicodeDecodeError as exc:
        raise DataError(str(path), "", f"not UTF-8 text (byte {exc.start + 1}); save the eval set as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise DataError(str(path), where, f"invalid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise DataError(str(path), "top level", "expected a mapping with items and/or conversations")
    cases = [_case(item, f"items[{i}]", str(path)) for i, item in enumerate(_listed(data, "items", str(path)))]
    for n, conv in enumerate(_listed(data, "conversations", str(path))):
        if not isinstance(conv, dict):
            raise DataError(str(path), f"conversations[{n}]", "expected a mapping with id and turns")
        cid = str(conv.get("id", f"conversation {n}"))
        for t, turn in enumerate(_listed(conv, "turns", str(path), f"conversations[{n}].")):
            place = f"conversations[{n}].turns[{t}]"
            cases.append(_case({"id": f"{cid}.{t + 1}", **turn} if isinstance(turn, dict) else turn, place,
                               str(path), cid))
    return cases


def _listed(data: dict[str, Any], key: str, path: str, prefix: str = "") -> list[Any]:
    """data[key] as a list (missing or empty: none); DataError when it is something else."""
    value = data.get(key) or []
    if not isinstance(value, list):
        raise DataError(path, prefix + key, f"expected a list, got {type(value).__name__}")
    return value


def _case(raw: Any, place: str, path: str, conversation: str | None = None) -> Case:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str) or raw.get("intent") not in INTENTS:
        raise DataError(path, place, "needs text (a string) and intent (one of " + ", ".join(INTENTS) + ")")
    return Case(str(raw.get("id", place)), raw["text"], raw["intent"], str(raw.get("topic", raw["intent"])),
                tuple(str(e) for e in raw.get("evidence") or ()), conversation)


def evaluate(cases: Iterable[Case], answer: Answer) -> Scores:
    """Answer every case; conversation turns carry their state forward."""
    scores = Scores()
    states: dict[str, State] = {}
    for case in cases:
        state = states.get(case.conversation) if case.conversation else None
        reply = answer(case.text, state)
        if case.conversation:
            states[case.conversation] = reply.state
        text = reply.text.lower()
        grounded = not case.evidence or any(e.lower() in text for e in case.evidence)
        scores.outcomes.append(Outcome(case, reply.intent, reply.topic, grounded, reply.confidence))
    return scores


def report(scores: Scores) -> str:
    """The printed evaluation: totals, per-intent table, confusion matrix and misses."""
    n = len(scores.outcomes)
    lines = [
        f"items: {n}",
        f"accuracy: {_share(scores.accuracy_or_none)}  ({sum(o.correct for o in scores.outcomes)}/{n})",
        f"topic accuracy: {_share(scores.topic_accuracy if n else None)}",
        f"red-flag recall: {_share(scores.red_flag_recall_or_none)}"
        + ("" if scores.red_flag_recall_or_none is not None else "  (no red-flag items)"),
        f"false escalation: {_share(scores.false_escalation_or_none)}",
        f"out_of_scope/greeting answered with article content: {len(scores.content_leaks)}",
        "",
        f"{'intent':<14}{'precision':>10}{'recall':>8}{'f1':>7}{'n':>5}",
    ]
    for intent, (p, r, f1, support) in scores.per_intent().items():
        lines.append(f"{intent:<14}{p:>10.2f}{r:>8.2f}{f1:>7.2f}{support:>5}")
    labels = [i for i in INTENTS if any(i in pair for pair in scores.confusion())]
    lines += ["", "confusion (rows: expected, columns: answered)",
              " " * 14 + "".join(f"{label[:8]:>9}" for label in labels)]
    matrix = scores.confusion()
    for row in labels:
        lines.append(f"{row:<14}" + "".join(f"{matrix[(row, col)]:>9}" for col in labels))
    for topic, (right, labelled) in reversed(scores.tiers().items()):
        lines.insert(5, f"{topic} in its tier, with its wording: {right}/{labelled}")
    lines += ["", "reliability (confidence against accuracy)", f"{'confidence':<14}{'replies':>8}{'accuracy':>10}"]
    for low, high, count, accuracy in scores.reliability():
        lines.append(f"{low:.1f}-{high:.1f}{'':<7}{count:>8}{accuracy:>10.0%}" if count
                     else f"{low:.1f}-{high:.1f}{'':<7}{0:>8}{'-':>10}")
    misses = [o for o in scores.outcomes if not o.correct]
    lines += ["", f"misses: {len(misses)}"]
    for o in misses:
        why = "intent" if o.intent != o.case.intent else "evidence"
        lines.append(f"  {o.case.id} [{why}] expected {o.case.topic}, got {o.topic}: {o.case.text[:90]!r}")
    topic_only = [o for o in scores.outcomes if o.topic_only_miss]
    lines += ["", f"topic-only misses (right intent, other section): {len(topic_only)}"]
    for o in topic_only:
        lines.append(f"  {o.case.id} expected {o.case.topic}, got {o.topic}: {o.case.text[:90]!r}")
    return "\n".join(lines)


def report_json(scores: Scores) -> dict[str, Any]:
    """The evaluation as data: totals, per-intent and per-topic figures, calibration and every item."""
    return {
        "items": len(scores.outcomes),
        "accuracy": scores.accuracy_or_none,  # null (n/a) for a category with no items
        "topic_accuracy": scores.topic_accuracy if scores.outcomes else None,
        "red_flag_recall": scores.red_flag_recall_or_none,
        "false_escalation": scores.false_escalation_or_none,
        "tiers": {topic: {"right": right, "labelled": labelled} for topic, (right, labelled) in scores.tiers().items()},
        "per_intent": {intent: {"precision": p, "recall": r, "f1": f1, "support": n}
                       for intent, (p, r, f1, n) in scores.per_intent().items()},
        "per_topic": {topic: {"precision": p, "recall": r, "f1": f1, "support": n}
                      for topic, (p, r, f1, n) in scores.per_topic().items()},
        "confusion": [{"expected": e, "answered": a, "count": n} for (e, a), n in sorted(scores.confusion().items())],
        "calibration": [{"low": low, "high": high, "replies": n, "accuracy": acc}
                        for low, high, n, acc in scores.reliability()],
        "outcomes": [{"id": o.case.id, "text": o.case.text, "expected_intent": o.case.intent,
                      "expected_topic": o.case.topic,
                      "intent": o.intent, "topic": o.topic, "confidence": o.confidence, "correct": o.correct,
                      "topic_only_miss": o.topic_only_miss} for o in scores.outcomes],
    }


_WITHOUT_ENCODER = {"encoder_weight": 0.0,  # probabilities never reach 2
                    "sign_sure": 2.0, "sign_sure_emergency": 2.0, "sign_maybe": 2.0}


def compare(cases: list[Case]) -> str:
    """One table scoring the full bot beside simpler answerers on the same cases."""
    return compare_table(compare_scores(cases))


def compare_scores(cases: list[Case]) -> dict[str, Scores]:
    """The scores of the full bot (first, as "full bot") and of simpler answerers on the same cases."""
    from . import baselines
    from ._engine import Engine, default_engine

    engine = default_engine()
    systems: dict[str, Answer] = {
        "full bot": engine.answer,
        "bare TF-IDF top chunk": baselines.bare_tfidf(engine),
        "rapidfuzz on example phrases": baselines.fuzzy_examples(engine),
        "full bot without slang lexicon": Engine(engine.corpus_path, engine.intents_path, slang=False).answer,
        "TF-IDF only (no encoder)": Engine(engine.corpus_path, engine.intents_path, tuning=_WITHOUT_ENCODER).answer,
        "encoder only for topics": Engine(engine.corpus_path, engine.intents_path,
                                          tuning={"encoder_weight": 1.0}).answer,
    }
    return {name: evaluate(cases, answer) for name, answer in systems.items()}


def compare_table(systems: dict[str, Scores]) -> str:
    """The table `hipbot eval --compare` prints: one row per system; n/a for a category with no items."""
    lines = [f"{'system':<34}{'accuracy':>9}{'red-flag recall':>17}{'false escalation':>18}"]
    for name, scores in systems.items():
        lines.append(f"{name:<34}{_share(scores.accuracy_or_none, 9)}{_share(scores.red_flag_recall_or_none, 17)}"
                     f"{_share(scores.false_escalation_or_none, 18)}")
    return "\n".join(lines)
