"""Load and check intents.yaml: templates, routing settings, cues, red flags, examples."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_type_hints

import yaml

from ._errors import DataError
from ._model import INTENTS, Intent


@dataclass(frozen=True)
class Near:
    """A sign made of two parts said close together, in either order ("numb" near "foot")."""

    first: re.Pattern[str]
    second: re.Pattern[str]
    words: int  # at most this many words between them
    unless: re.Pattern[str] | None = None  # a sentence matching this does not count ("after leg day")


NEAR_CHARACTERS_PER_WORD = 25


def near_spans(rule: Near, sentence: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Spans where the rule's two parts stand close enough together, in either order, left to
    right, within sentence[start:end] (patterns still see the text around it)."""
    end = len(sentence) if end is None else end
    if rule.unless and rule.unless.search(sentence, start, end):
        return
    seconds = [(m.start(), m.end()) for m in rule.second.finditer(sentence, start, end)]
    if not seconds:
        return
    starts = [start for start, _ in seconds]
    reach = NEAR_CHARACTERS_PER_WORD * (rule.words + 1)  # only nearby second parts can be close enough
    for a in rule.first.finditer(sentence, start, end):
        nearby = seconds[bisect.bisect_left(starts, a.start() - reach): bisect.bisect_right(starts, a.end() + reach)]
        for b_start, b_end in nearby:
            if a.start() < b_end and b_start < a.end():
                continue  # overlapping
            gap = sentence[min(a.end(), b_end): max(a.start(), b_start)]
            if len(gap.split()) <= rule.words:
                yield min(a.start(), b_start), max(a.end(), b_end)


@dataclass(frozen=True)
class Gap:
    """A kind of request the corpus does not answer, and what to say about it."""

    kind: str
    say: str
    related: str | None = None
    patterns: tuple[re.Pattern[str], ...] = ()
    near: tuple[Near, ...] = ()
    unless: re.Pattern[str] | None = None
    subject: bool = False  # naming it outside a question makes it what a bare "has this happened to anyone?" asks about
    partly: bool = False  # the causes and fixes partly carry over: `say` opens that answer, nothing is declined
    leaves_out: tuple[str, ...] = ()  # with `partly`: the topics that do not carry over, left off the lists


@dataclass(frozen=True)
class RedFlag:
    """One red-flag topic: its plain-language signs and the patterns that detect it."""

    topic: str
    tier: str
    signs: str
    patterns: tuple[re.Pattern[str], ...] = ()
    with_pain: tuple[re.Pattern[str], ...] = ()
    with_flags: tuple[re.Pattern[str], ...] = ()  # count only when one of `needs` is found too
    needs: tuple[str, ...] = ()
    near: tuple[Near, ...] = ()
    mine_only: bool = False  # signs that are someone else's ("my mum has osteoporosis") do not count
    asks: tuple[re.Pattern[str], ...] = ()  # questions about the signs: answered with the guidance, not remembered


@dataclass(frozen=True)
class Sign:
    """One warning sign the sign model learns from its `phrases`: the red-flag topic it raises, and a
    neutral wording of it for replies ("pain going down a leg")."""

    name: str
    topic: str
    says: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class SafetyRules:
    """Wording that keeps a red flag in force, and the body parts that carry a sign across turns."""

    carry_on: re.Pattern[str]
    self_treat: re.Pattern[str]
    limb: re.Pattern[str]
    body_part: re.Pattern[str]
    someone_else: re.Pattern[str]
    me: re.Pattern[str]
    in_care: re.Pattern[str]  # the person says they are already seeing a doctor or therapist about it
    operated: re.Pattern[str]  # the person has had surgery on their back (a fusion, a discectomy...)
    back: re.Pattern[str]  # the back itself named (not the machine's back pad): with pain told, the signs to watch
    spellings: tuple[str, ...]  # words a misspelling is corrected to before the scan
    answered_after: tuple[str, ...]  # topics still answered after a sign (anatomy, thanks): all else repeats it


EMERGENCY, URGENT, PROFESSIONAL = "emergency", "urgent", "professional"
TIER_KINDS = (EMERGENCY, URGENT, PROFESSIONAL)  # the red-flag tiers, most urgent first: their names in intents.yaml

WRONG_PREFIX = "wrong."  # a picture label named with it belongs to the wrong panel


@dataclass(frozen=True)
class Picture:
    """The setup picture: what asks for it, where it is offered, and its article-quoted labels
    for the right setup (`labels`) and the wrong one beside it (`wrong_labels`)."""

    trigger: re.Pattern[str]
    suggestion: str
    offer_after: tuple[str, ...]
    text: str
    labels: dict[str, tuple[str, str]]  # name -> (section id, quote from that section)
    wrong_labels: dict[str, tuple[str, str]]  # the same, for the faults in the wrong panel


@dataclass(frozen=True)
class Routing:
    """Routing thresholds and weights (probabilities and scores 0..1, word counts whole numbers); intents.yaml
    explains each one."""

    min_confidence: float
    sure: float
    red_flag_classifier: float
    asked_classifier: float
    topic_cue_bonus: float
    followup_bonus: float
    retrieval_weight: float
    off_topic_bonus: float
    asked_mode_ratio: float
    encoder_weight: float
    sign_sure: float
    sign_graver: float  # the sign model this sure of a graver sign than the rules found: the graver tier
    sign_sure_emergency: float
    sign_maybe: float
    ask_below: float
    settled: float
    known_share: float
    language_words: int
    smalltalk_words: int
    short_message: int
    short_reply: int
    negation_gap: int


@dataclass(frozen=True)
class TopicCopy:
    """How replies name a topic: a short label, a one-line gist in the article's words, the question offered for it."""

    label: str
    ask: str
    gist: str = ""
    after: str = ""  # said after the topic's passage (who to ask when you have a known back condition)


@dataclass(frozen=True)
class Copy:
    """What hipbot says about itself, the same in every adapter."""

    disclaimer: str
    banner: str
    start: str
    help: str
    help_terminal: str
    help_telegram: str
    about: re.Pattern[str]  # what asks about the source article ("/about")
    picture_caption: str


@dataclass(frozen=True)
class Config:
    """Everything intents.yaml says, checked and compiled."""

    intents: dict[str, dict[str, Any]]
    replies: dict[str, str]
    routing: Routing
    pairs: dict[str, str]
    cues: dict[str, tuple[re.Pattern[str], ...]]
    off_topic: dict[str, re.Pattern[str]]
    back_trouble: re.Pattern[str]
    question: re.Pattern[str]
    followup: tuple[re.Pattern[str], ...]
    followup_breakers: re.Pattern[str]
    pain: re.Pattern[str]
    negation: re.Pattern[str]
    negation_breakers: re.Pattern[str]
    negation_undone: re.Pattern[str]
    red_flags: tuple[RedFlag, ...]
    signs: tuple[Sign, ...]
    not_signs: tuple[str, ...]  # what the sign model learns is no warning sign ("glutes burn at the top")
    tiers: dict[str, dict[str, Any]]
    safety: SafetyRules
    not_covered: tuple[Gap, ...]
    smalltalk: dict[str, re.Pattern[str]]
    topic_cues: dict[str, tuple[re.Pattern[str], ...]]
    lexicon: dict[str, tuple[str, ...]]
    examples: dict[str, tuple[str, ...]]
    picture: Picture
    copy: Copy
    topics: dict[str, TopicCopy]
    more: re.Pattern[str]  # "what else?": the next cause or fix not shown yet
    everything: re.Pattern[str]  # "the full checklist": an overview with every passage
    both_asked: tuple[re.Pattern[str], ...]  # all match: the message asks why and how ("causes and prevention")

    def intent_of(self, topic: str) -> Intent:
        """The intent a topic id belongs to: the part before its first dot (topics are checked at load)."""
        return cast(Intent, topic.split(".", 1)[0])


_SCHEMA: dict[str, type] = {
    "version": int, "intents": dict, "replies": dict, "routing": dict, "pairs": dict, "cues": dict,
    "off_topic": dict, "back_trouble": str, "question": str, "followup": list, "followup_breakers": str,
    "pain": str, "negation": str, "negation_breakers": str, "negation_undone": str, "red_flags": dict,
    "signs": dict, "not_signs": list, "fragments": dict,
    "tiers": dict, "safety": dict, "not_covered": dict, "smalltalk": dict, "topic_cues": dict,
    "lexicon": dict, "examples": dict, "picture": dict, "copy": dict, "topics": dict, "more": str, "everything": str,
    "both_asked": list,
}
_REPLY_KEYS = (
    "greeting.hello", "greeting.thanks", "greeting.goodbye", "greeting.empty", "out_of_scope",
    "out_of_scope.not_text", "out_of_scope.other_language", "out_of_scope.unsure", "closest",
    "not_covered", "covered_part", "hedge", "more_hint", "another", "all_shown", "again", "again_red_flag",
    "still_on", "watch_signs", "again_twice", "clarify", "in_care", "operated", "thanks_ahead",
    "paired_list", "paired_rest", "paired_cause", "paired_fix", "one_of",
)
_ROUTING_KEYS = tuple(Routing.__dataclass_fields__)
_ROUTING_TYPES = get_type_hints(Routing)  # float or int: a whole number where a count is meant
_OFF_TOPIC_KEYS = ("instructions", "exercise", "unless_exercise", "pain_site", "unless_pain_site")


def _keys(cls: type[Any], named_by: str = "") -> tuple[str, ...]:
    """The keys a dataclass takes in intents.yaml: its fields, less the one the mapping's key gives (`named_by`)."""
    return tuple(f.name for f in fields(cls) if f.name != named_by)


def _required(cls: type[Any], named_by: str = "") -> tuple[str, ...]:
    """The keys intents.yaml must give for a dataclass: its fields without a default."""
    return tuple(f.name for f in fields(cls)
                 if f.name != named_by and f.default is MISSING and f.default_factory is MISSING)


if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


class _UniqueKeyLoader(_SafeLoader):
    """A safe loader that refuses a key given twice in one mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise DataError("", f"line {key_node.start_mark.line + 1}", f"duplicate key {key!r}")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_config(path: Path) -> Config:
    """Read intents.yaml; any problem is a DataError naming the file, the place and the problem."""
    return _build(read_yaml(path), Checker(str(path)))


def read_yaml(path: Path) -> Any:
    """A YAML data file (intents.yaml, check.yaml), refusing a key given twice; problems are DataErrors."""
    name = str(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - safe subclass
    except FileNotFoundError:
        raise DataError(name, "", "file not found") from None
    except DataError as exc:
        raise DataError(name, exc.place, exc.problem) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}" if mark else ""
        raise DataError(name, place, f"invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return raw


class Checker:
    """Type and key checks that report `file: place: problem` (shared by intents.yaml and check.yaml)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fragments: dict[str, str] = {}  # %name% in a pattern stands for fragments[name]

    def fail(self, place: str, problem: str) -> DataError:
        return DataError(self.name, place, problem)

    def typed(self, value: Any, kind: type | tuple[type, ...], place: str) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            name = _TYPE_NAMES[kind] if isinstance(kind, type) else " or ".join(_TYPE_NAMES[k] for k in kind)
            raise self.fail(place, f"expected {name}, got {type(value).__name__}")
        return value

    def strings(self, value: Any, place: str) -> tuple[str, ...]:
        items = self.typed(value, list, place)
        return tuple(self.typed(item, str, f"{place}[{i}]") for i, item in enumerate(items))

    def pattern(self, value: Any, place: str) -> re.Pattern[str]:
        text = _FRAGMENT.sub(lambda m: self._fragment(m.group(1), place), self.typed(value, str, place))
        try:
            return re.compile(text)
        except re.error as exc:
            raise self.fail(place, f"bad pattern: {exc}") from None

    def _fragment(self, name: str, place: str) -> str:
        if name not in self.fragments:
            raise self.fail(place, f"unknown fragment %{name}% (fragments: {', '.join(self.fragments)})")
        return f"(?:{self.fragments[name]})"

    def patterns(self, value: Any, place: str) -> tuple[re.Pattern[str], ...]:
        return tuple(self.pattern(item, f"{place}[{i}]") for i, item in enumerate(self.typed(value, list, place)))

    def keys(self, mapping: dict[Any, Any], allowed: tuple[str, ...], place: str,
             required: tuple[str, ...] = ()) -> None:
        for key in mapping:
            if key not in allowed:
                raise self.fail(f"{place}.{key}" if place else str(key), "unknown key")
        for key in required:
            if key not in mapping:
                raise self.fail(place or "top level", f"missing key {key!r}")


_FRAGMENT = re.compile(r"%([a-z_]+)%")
_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string", int: "a whole number", float: "a number"}


def _build(raw: Any, check: Checker) -> Config:
    data = check.typed(raw, dict, "top level")
    check.keys(data, tuple(_SCHEMA), "", required=tuple(_SCHEMA))
    for key, kind in _SCHEMA.items():
        check.typed(data[key], kind, key)
    for name, fragment in data["fragments"].items():
        check.pattern(fragment, f"fragments.{name}")  # on its own, so a broken one is named here
        check.fragments[str(name)] = fragment
    intents = data["intents"]
    check.keys(intents, INTENTS, "intents")
    for intent, spec in intents.items():
        check.keys(check.typed(spec, dict, f"intents.{intent}"), ("ask", "suggestions"),
                   f"intents.{intent}")
        check.strings(spec.get("suggestions", []), f"intents.{intent}.suggestions")
    check.keys(data["replies"], _REPLY_KEYS, "replies", required=_REPLY_KEYS)
    replies = {k: check.typed(v, str, f"replies.{k}") for k, v in data["replies"].items()}
    check.keys(data["routing"], _ROUTING_KEYS, "routing", required=_ROUTING_KEYS)
    numbers: dict[str, Any] = {
        k: check.typed(v, int, f"routing.{k}") if _ROUTING_TYPES[k] is int
        else float(check.typed(v, (int, float), f"routing.{k}")) for k, v in data["routing"].items()
    }
    routing = Routing(**numbers)
    pairs = {check.typed(k, str, "pairs"): check.typed(v, str, f"pairs.{k}") for k, v in data["pairs"].items()}
    check.keys(data["cues"], ("cause", "fix"), "cues", required=("cause", "fix"))
    cues = {mode: check.patterns(v, f"cues.{mode}") for mode, v in data["cues"].items()}
    tiers = _tiers(data["tiers"], check)
    red_flags = _red_flags(data["red_flags"], tiers, check)
    lexicon = {check.typed(k, str, "lexicon"): check.strings(v, f"lexicon.{k}") for k, v in data["lexicon"].items()}
    examples = {}
    for topic, phrases in data["examples"].items():
        intent = str(topic).split(".", 1)[0]
        if intent not in INTENTS:
            raise check.fail(f"examples.{topic}", f"topic must start with one of {', '.join(INTENTS)}")
        examples[topic] = check.strings(phrases, f"examples.{topic}")
    return Config(
        intents=intents, replies=replies, routing=routing, pairs=pairs, cues=cues,
        off_topic=_off_topic(data["off_topic"], check),
        back_trouble=check.pattern(data["back_trouble"], "back_trouble"),
        question=check.pattern(data["question"], "question"),
        followup=check.patterns(data["followup"], "followup"),
        followup_breakers=check.pattern(data["followup_breakers"], "followup_breakers"),
        pain=check.pattern(data["pain"], "pain"),
        negation=check.pattern(data["negation"], "negation"),
        negation_breakers=check.pattern(data["negation_breakers"], "negation_breakers"),
        negation_undone=check.pattern(data["negation_undone"], "negation_undone"),
        red_flags=red_flags, signs=_signs(data["signs"], red_flags, check),
        not_signs=check.strings(data["not_signs"], "not_signs"), tiers=tiers, safety=_safety(data["safety"], check),
        not_covered=_not_covered(data["not_covered"], check),
        smalltalk={str(k): check.pattern(v, f"smalltalk.{k}") for k, v in data["smalltalk"].items()},
        topic_cues={str(k): check.patterns(v, f"topic_cues.{k}") for k, v in data["topic_cues"].items()},
        lexicon=lexicon, examples=examples, picture=_picture(data["picture"], check),
        copy=_copy(data["copy"], check), topics=_topics(data["topics"], check),
        more=check.pattern(data["more"], "more"), everything=check.pattern(data["everything"], "everything"),
        both_asked=check.patterns(data["both_asked"], "both_asked"),
    )


def _copy(raw: dict[Any, Any], check: Checker) -> Copy:
    names = tuple(Copy.__dataclass_fields__)
    check.keys(raw, names, "copy", required=names)
    texts = {k: check.typed(v, str, f"copy.{k}").strip() for k, v in raw.items()}
    return Copy(**{**texts, "about": check.pattern(raw["about"], "copy.about")})


def _topics(raw: dict[Any, Any], check: Checker) -> dict[str, TopicCopy]:
    topics = {}
    for topic, spec in raw.items():
        place = f"topics.{topic}"
        check.keys(check.typed(spec, dict, place), _keys(TopicCopy), place, required=_required(TopicCopy))
        topics[str(topic)] = TopicCopy(**{k: check.typed(v, str, f"{place}.{k}") for k, v in spec.items()})
    return topics


def _tiers(raw: dict[Any, Any], check: Checker) -> dict[str, dict[str, Any]]:
    """Red-flag tiers, one of each kind in TIER_KINDS (most urgent first, whatever the order in the file):
    each one's lead, reminder and suggestions."""
    for name in raw:
        if name not in TIER_KINDS:
            raise check.fail(f"tiers.{name}", f"unknown tier (tiers are named by kind: {', '.join(TIER_KINDS)})")
    check.keys(raw, TIER_KINDS, "tiers", required=TIER_KINDS)
    tiers = {}
    for name in TIER_KINDS:
        spec = raw[name]
        place = f"tiers.{name}"
        keys = ("lead", "reminder", "asked", "thanks", "impersonal", "why", "suggestions", "general_suggestions")
        check.keys(check.typed(spec, dict, place), keys, place, required=("lead", "reminder"))
        for key in ("lead", "reminder", "asked", "thanks", "impersonal", "why"):
            if key in spec:
                check.typed(spec[key], str, f"{place}.{key}")
        tiers[name] = {**spec, **{key: check.strings(spec.get(key, []), f"{place}.{key}")
                                  for key in ("suggestions", "general_suggestions")}}
    if any("asked" not in tier for tier in tiers.values()):
        raise check.fail("tiers", "every tier needs an 'asked' reply (its signs, for 'when should I worry?')")
    return tiers


def _red_flags(raw: dict[Any, Any], tiers: dict[str, dict[str, Any]], check: Checker) -> tuple[RedFlag, ...]:
    red_flags = []
    for topic, spec in raw.items():
        place = f"red_flags.{topic}"
        if not str(topic).startswith("red_flag."):
            raise check.fail(place, "red-flag topics must start with 'red_flag.'")
        check.keys(check.typed(spec, dict, place), _keys(RedFlag, "topic"), place, required=_required(RedFlag, "topic"))
        if spec["tier"] not in tiers:
            raise check.fail(f"{place}.tier", f"unknown tier {spec['tier']!r} (tiers: {', '.join(tiers)})")
        needs = check.strings(spec.get("needs", []), f"{place}.needs")
        for other in needs:
            if other not in raw:
                raise check.fail(f"{place}.needs", f"unknown red flag {other!r}")
        red_flags.append(RedFlag(
            topic=topic,
            tier=spec["tier"],
            signs=check.typed(spec["signs"], str, f"{place}.signs"),
            patterns=check.patterns(spec.get("patterns", []), f"{place}.patterns"),
            asks=check.patterns(spec.get("asks", []), f"{place}.asks"),
            with_pain=check.patterns(spec.get("with_pain", []), f"{place}.with_pain"),
            with_flags=check.patterns(spec.get("with_flags", []), f"{place}.with_flags"),
            needs=needs,
            mine_only=check.typed(spec.get("mine_only", False), bool, f"{place}.mine_only"),
            near=tuple(_near(rule, f"{place}.near[{i}]", check)
                       for i, rule in enumerate(check.typed(spec.get("near", []), list, f"{place}.near"))),
        ))
    return tuple(red_flags)


def _signs(raw: dict[Any, Any], red_flags: tuple[RedFlag, ...], check: Checker) -> tuple[Sign, ...]:
    topics = {flag.topic for flag in red_flags}
    signs = []
    for name, spec in raw.items():
        place = f"signs.{name}"
        check.keys(check.typed(spec, dict, place), _keys(Sign, "name"), place, required=_required(Sign, "name"))
        topic = check.typed(spec["topic"], str, f"{place}.topic")
        if topic not in topics:
            raise check.fail(f"{place}.topic", f"unknown red flag {topic!r}")
        signs.append(Sign(str(name), topic, check.typed(spec["says"], str, f"{place}.says"),
                          check.strings(spec["phrases"], f"{place}.phrases")))
    return tuple(signs)


def _not_covered(raw: dict[Any, Any], check: Checker) -> tuple[Gap, ...]:
    gaps = []
    for kind, spec in raw.items():
        place = f"not_covered.{kind}"
        check.keys(check.typed(spec, dict, place), _keys(Gap, "kind"), place, required=_required(Gap, "kind"))
        unless = spec.get("unless")
        gaps.append(Gap(
            kind=str(kind),
            say=check.typed(spec["say"], str, f"{place}.say"),
            related=check.typed(spec["related"], str, f"{place}.related") if "related" in spec else None,
            patterns=check.patterns(spec.get("patterns", []), f"{place}.patterns"),
            near=tuple(_near(rule, f"{place}.near[{i}]", check)
                       for i, rule in enumerate(check.typed(spec.get("near", []), list, f"{place}.near"))),
            unless=check.pattern(unless, f"{place}.unless") if unless is not None else None,
            subject=check.typed(spec.get("subject", False), bool, f"{place}.subject"),
            partly=check.typed(spec.get("partly", False), bool, f"{place}.partly"),
            leaves_out=check.strings(spec.get("leaves_out", []), f"{place}.leaves_out"),
        ))
    return tuple(gaps)


def _near(raw: Any, place: str, check: Checker) -> Near:
    check.keys(check.typed(raw, dict, place), _keys(Near), place, required=_required(Near))
    unless = raw.get("unless")
    return Near(check.pattern(raw["first"], f"{place}.first"), check.pattern(raw["second"], f"{place}.second"),
                check.typed(raw["words"], int, f"{place}.words"),
                check.pattern(unless, f"{place}.unless") if unless is not None else None)


def _safety(raw: dict[Any, Any], check: Checker) -> SafetyRules:
    check.keys(raw, _keys(SafetyRules), "safety", required=_required(SafetyRules))
    rules: dict[str, Any] = {  # a pattern or a list of words, as the dataclass says
        key: check.pattern(raw[key], f"safety.{key}") if kind == re.Pattern[str]
        else check.strings(raw[key], f"safety.{key}")
        for key, kind in get_type_hints(SafetyRules).items()
    }
    return SafetyRules(**rules)


def _off_topic(raw: dict[Any, Any], check: Checker) -> dict[str, re.Pattern[str]]:
    check.keys(raw, _OFF_TOPIC_KEYS, "off_topic", required=_OFF_TOPIC_KEYS)
    return {key: check.pattern(raw[key], f"off_topic.{key}") for key in _OFF_TOPIC_KEYS}


def _picture(raw: dict[Any, Any], check: Checker) -> Picture:
    check.keys(raw, _keys(Picture), "picture", required=_required(Picture))
    return Picture(
        trigger=check.pattern(raw["trigger"], "picture.trigger"),
        suggestion=check.typed(raw["suggestion"], str, "picture.suggestion"),
        offer_after=check.strings(raw["offer_after"], "picture.offer_after"),
        text=check.typed(raw["text"], str, "picture.text"),
        labels=_picture_labels(raw["labels"], "picture.labels", check),
        wrong_labels=_picture_labels(raw["wrong_labels"], "picture.wrong_labels", check),
    )


def _picture_labels(raw: Any, where: str, check: Checker) -> dict[str, tuple[str, str]]:
    labels = {}
    for name, spec in check.typed(raw, dict, where).items():
        place = f"{where}.{name}"
        check.keys(check.typed(spec, dict, place), ("section", "quote"), place, required=("section", "quote"))
        labels[str(name)] = (check.typed(spec["section"], str, f"{place}.section"),
                             check.typed(spec["quote"], str, f"{place}.quote"))
    return labels
