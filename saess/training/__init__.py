"""Training: the labelled-text phase and the alignment phase, baselines, checkpoints."""

from saess.training.config import TrainConfig
from saess.training.trainer import SafetyTrainer, TrainResult

__all__ = ["SafetyTrainer", "TrainConfig", "TrainResult"]
