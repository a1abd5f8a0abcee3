"""Sliding-window attention (Mistral v0.1, Gemma 2, Gemma 3): where saess can use it and where not.

saess gives the language model its own 4D attention mask (`saess.model.masks`), and
`transformers` uses a 4D mask as it is: the model's sliding window is then *not*
applied. A window only changes anything when a sequence is longer than the window, so:

- window >= `max_length` (the longest sequence saess lets through, `[CLS]` included):
  the window never binds; the model is supported as it is.
- window < `max_length`: refused with `ModelError` (`check_sliding_window`). Build the
  model with `max_length` <= the window (`SafetyModel.from_causal_lm(..., max_length=W)`).

The generator also never lets a sliding cache layer drop keys: it passes a cache with
full layers only (`unevicting_cache`), so `[CLS]` stays in slot 0 whatever the layer.
"""

from __future__ import annotations

from transformers import DynamicCache

from saess.errors import ModelError


def sliding_window_of(lm) -> int | None:
    """The LM's sliding window if some of its layers use one, else None."""
    cfg = getattr(lm, "config", None)
    if cfg is None:
        return None
    if hasattr(cfg, "get_text_config"):
        cfg = cfg.get_text_config()
    window = getattr(cfg, "sliding_window", None)
    if not window:
        return None
    if getattr(cfg, "use_sliding_window", True) is False:  # Qwen2: a window in the config, unused
        return None
    types = getattr(cfg, "layer_types", None)
    if types is not None and "sliding_attention" not in types:
        return None
    return int(window)


def check_sliding_window(lm, max_length: int) -> None:
    """Raise `ModelError` when the LM's sliding window is shorter than `max_length` (it would bind)."""
    window = sliding_window_of(lm)
    if window is not None and window < max_length:
        raise ModelError(f"the language model uses sliding-window attention (window {window} tokens), shorter than "
                         f"the context saess allows (max_length {max_length}): saess's attention masks would "
                         f"override the window; build the model with max_length <= {window}")


def unevicting_cache():
    """A KV cache whose layers all keep every key (no sliding-window eviction): `[CLS]` stays in slot 0."""
    return DynamicCache()


def drop_last_slots(cache, n: int) -> None:
    """Drop the last `n` slots of every layer of `cache` (positions a pass appended only to be read once, such as
    the `[CLS]` judgements of an ensemble's other members)."""
    if n <= 0:
        return
    for layer in cache.layers:
        for name in ("keys", "values"):
            setattr(layer, name, getattr(layer, name)[:, :, :-n])
        if hasattr(layer, "cumulative_length"):
            layer.cumulative_length -= n
