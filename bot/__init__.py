"""hipbot: answers "why does my back hurt on the hip thrust machine?" from one expert article."""

from ._config import load_config
from ._corpus import load_corpus, parse_article
from ._engine import Engine, answer, default_engine
from ._errors import DataError
from ._explain import Explanation
from ._model import INTENTS, Chunk, Intent, Reply, Source, State

__all__ = [
    "INTENTS", "Chunk", "DataError", "Engine", "Explanation", "Intent", "Reply", "Source", "State", "answer",
    "default_engine", "load_config", "load_corpus", "parse_article",
]
