"""Generation with the safety signal: strategic attention and strategic decoding."""

from saess.generation.config import GUIDE_TEXT, REFUSAL_TEXT, SamplingConfig, StrategicConfig
from saess.generation.engine import GenerationResult, SafeGenerator

__all__ = ["GUIDE_TEXT", "REFUSAL_TEXT", "GenerationResult", "SafeGenerator", "SamplingConfig", "StrategicConfig"]
