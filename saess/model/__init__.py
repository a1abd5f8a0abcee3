"""The safety-signal model: the `[CLS]` token, the `safety_head`, the per-phase attention masks."""

from saess.model.masks import build_cls_mask
from saess.model.safety_model import SafetyConfig, SafetyModel, SafetyOutput
from saess.model.tokens import CLS_TOKEN, ChatEncoder, EncodedSequence, SafetyBatch, collate

__all__ = [
    "CLS_TOKEN",
    "ChatEncoder",
    "EncodedSequence",
    "SafetyBatch",
    "SafetyConfig",
    "SafetyModel",
    "SafetyOutput",
    "build_cls_mask",
    "collate",
]
