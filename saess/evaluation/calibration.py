"""The head's decision threshold for a false-positive budget (`saess calibrate`).

The prompts of the training recipe's validation split (held out by prompt from training;
never an evaluation benchmark) are scored with the model's `[CLS]` head; the threshold is
the lowest whose false-positive rate there is at most `max_fpr`. `write_calibrated` writes
a copy of the model folder with that threshold in its `saess_config.json` (the generator
and `saess eval` use a model's own threshold).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from saess.data.recipes import RecipeConfig, build_recipe
from saess.errors import InputError
from saess.evaluation.classifier import answers_read_cls, base_answer_loss, utility_row
from saess.generation import StrategicConfig
from saess.model.registry import ModelRegistry
from saess.model.safety_model import CONFIG_NAME
from saess.model.tokens import collate
from saess.stats import auroc

logger = logging.getLogger(__name__)


def choose_threshold(pos: list[float], neg: list[float], max_fpr: float) -> float:
    """The lowest threshold t (P(malicious) >= t is malicious) whose false-positive rate on
    `neg` is at most `max_fpr`: the most harmful prompts caught within that budget."""
    if not neg or not pos:
        raise ValueError("calibration needs benign and malicious prompts")
    allowed = int(max_fpr * len(neg))  # benign prompts that may score >= t
    ranked = sorted(neg, reverse=True)
    if allowed >= len(ranked):
        return min(pos + neg)
    # t just above the (allowed+1)-th highest benign score
    t = ranked[allowed]
    return float(min(1.0, t + 1e-6))


def _validation_recipe(model) -> tuple[int, dict]:
    """(seed, recipe) of the training recipe the model was trained on: the split seed of its pipeline config
    (`recipe_seed`, else the run's seed, else 0)."""
    pipe = (model.config.extra or {}).get("pipeline") or {}
    seed = pipe.get("recipe_seed")
    if seed is None:
        seed = (pipe.get("train") or {}).get("seed", pipe.get("seed", 0))
    seed = int(seed)
    return seed, build_recipe(RecipeConfig(seed=seed))


def _rates(pos: list[float], neg: list[float], th: float) -> dict:
    return {"threshold": th, "tpr": sum(s >= th for s in pos) / len(pos), "fpr": sum(s >= th for s in neg) / len(neg)}


def calibrate(model, max_fpr: float, batch_size: int = 16, progress: bool = True, seeded_recipe=None) -> dict:
    """Score the prompts of the recipe's validation split (held out from training by prompt,
    never an evaluation benchmark) and choose the threshold for `max_fpr` there."""
    seed, recipe = seeded_recipe or _validation_recipe(model)
    val = recipe["alignment_val"]
    by_prompt: dict[str, int] = {}
    for e in val:
        by_prompt.setdefault(e.prompt, e.label)
    prompts, too_long = [], 0
    for p in by_prompt:  # a prompt longer than the model's context cannot be scored: counted, skipped
        try:
            model.encoder.encode_chat(p)
            prompts.append(p)
        except InputError:
            too_long += 1
    with tqdm(total=len(prompts), desc="calibrate", file=sys.stderr, disable=not progress) as bar:
        scores = model.classify(prompts, batch_size=batch_size, progress=bar.update)
    pos = [s for p, s in zip(prompts, scores, strict=True) if by_prompt[p] == 1]
    neg = [s for p, s in zip(prompts, scores, strict=True) if by_prompt[p] == 0]
    t = choose_threshold(pos, neg, max_fpr)

    return {"split": "alignment_val", "recipe_seed": seed, "n_malicious": len(pos), "n_benign": len(neg),
            "skipped_too_long": too_long,
            "max_fpr": max_fpr, "auroc": auroc(pos, neg), "before": _rates(pos, neg, model.config.threshold),
            "chosen": _rates(pos, neg, t)}


# A candidate whose LM loss on the benign validation answers exceeds its base model's by more than
# this is not eligible, whatever its rates (issue 11: "not worse"; +1% leaves room for noise, and
# v7aw's +0.3% was accepted in session 7). Added after v11w (session 11: +198%, gibberish answers
# that the keyword judge counted as answers).
UTILITY_TOLERANCE = 0.01


def utility_rows(model) -> dict:
    """calibration.json's "utility" (as `model` generates) and, for a model with a signal,
    "utility_by_lm_reads_cls" ({"on": ..., "off": ...}: what each `--lm-reads-cls` would give)."""
    base = base_answer_loss(model)
    if not bool((model.config.extra or {}).get("signal", True)):
        return {"utility": utility_row(model, base=base)}
    both = {"on": utility_row(model, reads=True, base=base), "off": utility_row(model, reads=False, base=base)}
    return {"utility": both["on" if answers_read_cls(model) else "off"],
            "utility_by_lm_reads_cls": both}


def write_calibrated(name: str, out: str | Path, max_fpr: float, batch_size: int = 16, progress: bool = True,
                     registry: ModelRegistry | None = None, window_answers: str | Path | None = None,
                     window_max_fpr: float = 0.05) -> dict:
    """Calibrate the saved model `name` (a trained name or a folder) and write the copy to `out`.
    With `window_answers` (a JSONL of base-model answers, e.g. a training run's data/retain.jsonl)
    the window threshold (rules 2-3) is calibrated too, per answer, for `window_max_fpr`."""
    registry = registry or ModelRegistry()
    if not 0.0 < max_fpr < 1.0:
        raise InputError(f"--max-fpr must be in (0, 1), got {max_fpr}")
    if not 0.0 < window_max_fpr < 1.0:
        raise InputError(f"--window-max-fpr must be in (0, 1), got {window_max_fpr}")
    answers = read_answers(window_answers) if window_answers is not None else None
    src = registry.saved_folder(name)
    if not (src / CONFIG_NAME).exists():
        raise InputError(f"--model {name}: not a saved saess model folder (no {CONFIG_NAME} in {src})")
    out = Path(out)
    if out.resolve() == src.resolve():
        raise InputError("--out must be a new folder, not the model's own (the original stays as it is)")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out} exists and is not empty")
    model = registry.load(str(src))
    if (model.config.extra or {}).get("signal") is not True:
        raise InputError(f"--model {name}: has no trained safety signal (its head is not used), "
                         "nothing to calibrate")
    seeded = _validation_recipe(model)  # built once for both thresholds
    res = calibrate(model, max_fpr, batch_size, progress=progress, seeded_recipe=seeded)
    t = res["chosen"]["threshold"]
    if not 0.0 < t < 1.0:
        raise InputError(f"no threshold in (0, 1) reaches FPR <= {max_fpr} on the validation split "
                         f"(it would be {t})")
    if answers is not None:
        res["windows"] = calibrate_windows(model, answers, window_max_fpr, batch_size=2 * batch_size,
                                           progress=progress, seeded_recipe=seeded)
        tw = res["windows"]["chosen"]["threshold"]
        if not 0.0 < tw < 1.0:
            raise InputError(f"no window threshold in (0, 1) reaches FPR <= {window_max_fpr} per answer on the "
                             f"validation split (it would be {tw})")
    # the guard of a choice between candidates (docs/training.md): the answers' LM loss against the base's,
    # as the model generates, and both ways when it has a signal (`--lm-reads-cls on|off` at generation)
    res.update(utility_rows(model))
    if res["utility"]["relative_change"] > UTILITY_TOLERANCE:
        logger.warning("%s: LM loss on the benign validation answers %+.1f%% against the base model (over %+.0f%%): "
                       "not eligible as a candidate", name, 100 * res["utility"]["relative_change"],
                       100 * UTILITY_TOLERANCE)
    shutil.copytree(src, out, dirs_exist_ok=True)
    cfg = json.loads((out / CONFIG_NAME).read_text())
    cfg["threshold"] = t
    if answers is not None:
        cfg["window_threshold"] = res["windows"]["chosen"]["threshold"]
    if cfg.get("window_bands"):  # chosen against the old thresholds (docs/generation.md, "Window bands")
        logger.warning("%s: its window bands %s are dropped from the calibrated copy (set them again for the new "
                       "thresholds)", name, cfg["window_bands"])
        cfg["window_bands"] = None
    # "from": the model as named on the command line (a trained name stays portable; no local path)
    cfg.setdefault("extra", {})["calibration"] = {**res, "from": name}
    if "ensemble" in cfg["extra"]:  # saess.model.ensemble: its thresholds are now the mean's own
        cfg["extra"]["ensemble"]["calibrated"] = "query and windows" if answers is not None else "query"
    (out / CONFIG_NAME).write_text(json.dumps(cfg, indent=2))
    (out / "calibration.json").write_text(json.dumps(res, indent=2) + "\n")
    logger.info("calibrated copy in %s (threshold %.4f); use it as --model %s", out, t, out)
    return res


# ---------------------------------------------------------------------------------------------
# The window threshold (rules 2-3), calibrated per answer.

def _window_spans(n: int, strategic, n_pre: int = 0) -> list[tuple[tuple[int, int], ...]]:
    """For an answer of `n` response tokens written benign-started, the windows that would make
    it malicious, one tuple per scheduled re-evaluation step s (s tokens generated): rule 2 reads
    [m - r2, m) with m = n_pre + s response tokens written (from 0 while m < r2); were it malicious,
    S = m - 1 and each of the next tau - 1 re-evaluations, at step s', reads rule 3's [S - r2, S + r3]
    as far as written, [S - r2, min(S + r3 + 1, n_pre + s')). The row acts when all tau windows of a
    tuple are malicious (docs/method.md, rules 2-3). Spans are half-open, in response tokens; a step
    whose tau - 1 later re-evaluations do not all fall inside the answer gives no tuple. `n_pre`: the
    answer's first tokens are a prefill (the engine counts steps in generated tokens, windows in
    response tokens)."""
    steps = [s for s in range(1, n - n_pre + 1) if strategic.evaluates_at(s)]
    out = []
    for i, s in enumerate(steps):
        later = steps[i + 1:i + strategic.tau]
        if len(later) < strategic.tau - 1:
            break
        m = n_pre + s
        start = max(0, m - 1 - strategic.r2)
        out.append(((max(0, m - strategic.r2), m),
                    *((start, min(m + strategic.r3, n_pre + t)) for t in later)))
    return out


@torch.no_grad()  # scoring only: text_phase_multi_logits also serves training, with gradients
def window_tuple_probs(model, items: list, batch_size: int = 32, progress=None) -> list[list[list[float]]]:
    """Per item (an encoded chat, its `_window_spans` tuples): per tuple, the P(malicious) of each of its windows,
    each window scored as `[CLS]` sees it (every token in its full chat context), one forward pass per chat for all
    its windows."""
    model.eval()
    out: list[list[list[float]]] = [[] for _ in items]
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))  # similar lengths pad less
    for s in range(0, len(order), batch_size):
        chunk = [(i, *items[i]) for i in order[s:s + batch_size]]
        batch = collate([seq for _, seq, _ in chunk], model.tokenizer.pad_token_id)
        T = batch.input_ids.shape[1]
        K = max(sum(len(t) for t in tuples) for _, _, tuples in chunk)
        sees = torch.zeros(len(chunk), K, T, dtype=torch.bool)
        for b, (_, seq, tuples) in enumerate(chunk):
            shift = T - len(seq)  # collate pads between [CLS] and the chat
            content = torch.tensor(seq.content, dtype=torch.bool)
            k = 0
            for spans in tuples:
                for a, e in spans:
                    lo, hi = seq.query_len + a, seq.query_len + e
                    sees[b, k, lo + shift:hi + shift] = content[lo:hi]
                    k += 1
        p = model.text_phase_multi_logits(batch, sees).float().softmax(-1)[..., 1]
        for b, (i, _, tuples) in enumerate(chunk):
            k = 0
            for spans in tuples:
                out[i].append([float(x) for x in p[b, k:k + len(spans)]])
                k += len(spans)
        if progress:
            progress(len(chunk))
    return out


def window_tuple_scores(model, items: list, batch_size: int = 32, progress=None) -> list[list[float]]:
    """Per item: per tuple, the smallest P(malicious) of its windows (`window_tuple_probs`)."""
    return [[min(t) for t in tuples] for tuples in window_tuple_probs(model, items, batch_size, progress)]


def answer_window_scores(model, answers: list[tuple[str, str]], strategic, batch_size: int = 32,
                         progress=None) -> list[float]:
    """Per answer (prompt, response): the highest threshold at which strategic decoding would
    turn the benign-started answer malicious through rules 2-3, i.e. max over re-evaluations of
    the smallest P(malicious) of the tau windows that would have to agree (`_window_spans`:
    the rule-2 window and the rule-3 windows it opens). Windows are scored as `[CLS]` sees them
    (saess.training.views.response_view: every token in its full chat context). An answer too
    short for any tuple scores 0."""
    scores = [0.0] * len(answers)
    for i, probs in answer_window_probs(model, answers, strategic, batch_size, progress).items():
        scores[i] = max(min(t) for t in probs)
    return scores


def answer_window_probs(model, answers: list[tuple[str, str]], strategic, batch_size: int = 32,
                        progress=None) -> dict[int, list[list[float]]]:
    """Per answer (by index) long enough for a rule-2/3 tuple: the P(malicious) of every window of every tuple
    (`window_tuple_probs`); an answer that cannot be encoded or has no tuple is left out."""
    index, items = [], []  # answer index; (encoded chat, [tuple of spans, ...])
    for i, (prompt, response) in enumerate(answers):
        try:
            seq = model.encoder.encode_chat(prompt, response, label=0, close_response=False)
        except InputError:
            continue
        tuples = _window_spans(len(seq) - seq.query_len, strategic)
        if tuples:
            index.append(i)
            items.append((seq, tuples))
    return dict(zip(index, window_tuple_probs(model, items, batch_size, progress), strict=True))


def read_answers(path: str | Path) -> list[tuple[str, str]]:
    """(prompt, response) rows of a JSONL file (a training run's data/retain.jsonl); a bad row is
    one clear error naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--window-answers {path}: no such file")
    rows = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            prompt, response = row["prompt"], row["response"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"{path}:{no}: not a JSON object with 'prompt' and 'response' ({e})") from None
        if isinstance(prompt, str) and isinstance(response, str) and response.strip():
            rows.append((prompt, response))
    return rows


def calibrate_windows(model, benign_answers: list[tuple[str, str]], max_fpr: float, strategic=None,
                      batch_size: int = 32, progress: bool = True, seeded_recipe=None) -> dict:
    """The window threshold for `max_fpr` per answer: benign answers are those of `benign_answers`
    whose prompt is a benign prompt of the recipe's validation split (others are ignored and
    counted); harmful answers are the split's complying answers to malicious prompts
    (`harmful_answers_val`). An answer counts as flagged when any rule-2/3 pair reaches the
    threshold (answer_window_scores)."""
    strategic = strategic or StrategicConfig()
    seed, recipe = seeded_recipe or _validation_recipe(model)
    val_benign = {e.prompt for e in recipe["alignment_val"] if e.label == 0}
    neg_ans = list(dict.fromkeys(a for a in benign_answers if a[0] in val_benign))
    pos_ans = list(dict.fromkeys((e.prompt, e.response) for e in recipe["harmful_answers_val"] if e.response))
    if not neg_ans:
        raise InputError("--window-answers: none of its prompts is a benign prompt of the validation split "
                         "(use the data/retain.jsonl of a training run with the same recipe seed)")
    total = len(neg_ans) + len(pos_ans)
    with tqdm(total=total, desc="calibrate windows", file=sys.stderr, disable=not progress) as bar:
        neg = answer_window_scores(model, neg_ans, strategic, batch_size)
        bar.update(len(neg_ans))
        pos = answer_window_scores(model, pos_ans, strategic, batch_size)
        bar.update(len(pos_ans))
    t = choose_threshold(pos, neg, max_fpr)

    before = float(model.config.window_threshold if getattr(model.config, "window_threshold", None) is not None
                   else model.config.threshold)
    return {"split": "alignment_val", "unit": "answer", "recipe_seed": seed, "n_harmful_answers": len(pos),
            "n_benign_answers": len(neg), "ignored_answers": len(benign_answers) - len(neg_ans),
            "tau": strategic.tau, "r2": strategic.r2, "r3": strategic.r3, "schedule": strategic.schedule,
            "max_fpr": max_fpr, "auroc": auroc(pos, neg), "before": _rates(pos, neg, before),
            "chosen": _rates(pos, neg, t)}
