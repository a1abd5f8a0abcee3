"""GCG: adversarial suffixes optimised on a model's gradients (Zou et al. 2023).

Two variants, both appending an optimised suffix to the user turn and asking the model to
start its answer with the row's AdvBench `target` ("Sure, here is ..."):

- "standard": `nanogcg==0.3.0` run on the underlying causal LM (`model.lm`, no `[CLS]`),
  the chat messages the engine will use, `{optim_str}` at the end of the user turn. The
  suffix then transfers to the SafetyModel (the usual white-box-on-the-LM setting).
  nanoGCG is imported lazily (install: `pip install --no-deps nanogcg==0.3.0 scipy`) and
  run with `use_prefix_cache=False`, the only setting that works with transformers 5.
- "adaptive": our own GCG (`AdaptiveGCG`) through the SafetyModel itself, with the
  alignment-phase mask (the target tokens attend to `[CLS]`) and the loss
  `CE(target | prompt + suffix) + alpha * -log P(benign | query)`, so the suffix both
  pulls the answer towards the target and pushes the `[CLS]` verdict towards benign.

The suffix is user text: the engine tokenizes it with `split_special_tokens=True`. So the
candidate set excludes every special / added token id (`[CLS]` included) and every token
that does not decode to printable ASCII, and the adaptive variant keeps only candidates
whose in-context retokenisation (`goal + suffix` through the encoder) gives back exactly
the optimised ids (the standard GCG filter, made exact at the goal/suffix boundary).

`gcg(rows, model, ...)` turns benchmark rows into `AttackCase`s (prompt =
`goal + " " + suffix`, greedy), caching each optimised suffix in a JSONL file under
`cache_dir` so an interrupted evaluation resumes without re-optimising. See docs/gcg.md.

Modules: `common` (config, presets, result, the allowed-token mask), `standard`
(nanoGCG), `adaptive` (`AdaptiveGCG`), `cases` (rows -> cases, the suffix cache).
"""

from saess.attacks.gcg.adaptive import AdaptiveGCG, sample_candidates
from saess.attacks.gcg.cases import gcg, gcg_attack, load_suffix_cache, model_fingerprint
from saess.attacks.gcg.common import (
    BENIGN,
    CACHE_FILE,
    DEFAULT_INIT,
    NANOGCG_INSTALL,
    PRESETS,
    VARIANTS,
    GCGConfig,
    GCGResult,
    allowed_token_mask,
    resolve_config,
)
from saess.attacks.gcg.standard import import_nanogcg, run_standard

__all__ = [
    "BENIGN",
    "CACHE_FILE",
    "DEFAULT_INIT",
    "NANOGCG_INSTALL",
    "PRESETS",
    "VARIANTS",
    "AdaptiveGCG",
    "GCGConfig",
    "GCGResult",
    "allowed_token_mask",
    "gcg",
    "gcg_attack",
    "import_nanogcg",
    "load_suffix_cache",
    "model_fingerprint",
    "resolve_config",
    "run_standard",
    "sample_candidates",
]
