"""hipbot: answers "why does my back hurt on the hip thrust machine?" from one expert article."""

from ._engine import Engine, answer, default_engine
from ._errors import DataError
from ._model import INTENTS, Chunk, Reply, Source, State

__all__ = ["INTENTS", "Chunk", "DataError", "Engine", "Reply", "Source", "State", "answer", "default_engine"]
