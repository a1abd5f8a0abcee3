"""`saess train`: the pipeline of `saess.training.pipeline` from the command line.

Flag defaults come from the dataclasses (`PipelineConfig`, `TrainConfig`): written once.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from saess.evaluation.signal_report import signal_report
from saess.flags import on_off
from saess.model import SafetyModel
from saess.model.compose import compose_folders
from saess.model.ensemble import ensemble_folders
from saess.model.registry import load_safety_model
from saess.model.storage import WEIGHTS_DTYPES, convert_folder
from saess.training.bench import TrainBenchConfig, run_train_bench
from saess.training.config import TrainConfig
from saess.training.pipeline import VARIANTS, PipelineConfig, publish, run_pipeline
from saess.training.trainer import init_distributed, training_device, world

logger = logging.getLogger("saess")
P, T, B = PipelineConfig, TrainConfig, TrainBenchConfig


def cmd_compose(args) -> int:
    path = compose_folders(args.query, args.window, args.out, registry=args.registry)
    print(json.dumps({"out": str(path)}))
    return 0


def cmd_ensemble(args) -> int:
    path = ensemble_folders(args.member, args.out, registry=args.registry, window_members=args.window_members)
    print(json.dumps({"out": str(path), "members": len(args.member), "window_members": args.window_members,
                      "next": f"saess calibrate --model {path} --out CALIBRATED (the first member's thresholds do "
                              "not hold for the mean)"}))
    return 0


def cmd_convert(args) -> int:
    info = convert_folder(args.model, args.out, args.weights_dtype, registry=args.registry)
    print(json.dumps({"out": str(args.out), **info}))
    return 0


def register_training_commands(sub) -> None:
    p = sub.add_parser("convert", help="copy a saved model with its safety tensors stored in another dtype (float16 "
                                       "halves an ensemble, int8 quarters it); config and thresholds unchanged")
    p.add_argument("--model", required=True, help="MODEL (a trained name or folder)")
    p.add_argument("--weights-dtype", required=True, choices=sorted(WEIGHTS_DTYPES))
    p.add_argument("--out", required=True, help="folder of the copy")
    p.set_defaults(func=cmd_convert)
    p = sub.add_parser("ensemble", help="one model from several runs of a frozen-LM recipe: the mean of their "
                                        "[CLS] classifiers' P(malicious) (docs/model.md, 'Ensembles')")
    p.add_argument("--member", action="append", required=True,
                   help="MODEL (a trained name or folder); give it two or more times. The first gives the decoding "
                        "settings")
    p.add_argument("--out", required=True, help="folder of the ensemble (calibrate it before use)")
    p.add_argument("--window-members", type=int, default=None, metavar="N",
                   help="only the first N members judge the windows of the answer alone (rules 2-3); the others judge "
                        "the views that hold the query (default: every member judges everything)")
    p.set_defaults(func=cmd_ensemble)
    p = sub.add_parser("compose", help="one model from two: the query judgement of one, the window judgement of another")
    p.add_argument("--query", required=True, help="MODEL whose [CLS], adapter, head, settings and query threshold judge "
                                                   "the query (step 0, rule 1, confirmation, recheck)")
    p.add_argument("--window", required=True, help="MODEL whose [CLS], adapter, head and window threshold judge the "
                                                    "answer windows of rules 2-3")
    p.add_argument("--out", required=True, help="folder of the composed model")
    p.set_defaults(func=cmd_compose)
    p = sub.add_parser("train", help="train the safety signal (cls) or a baseline (sft, aug) on the packaged recipe")
    p.add_argument("--variant", default=P.variant, choices=VARIANTS)
    p.add_argument("--base", default=P.base, help="base model: 'base' (embedded SmolLM2-135M-Instruct) or a path")
    p.add_argument("--out", required=True, help="run folder (resumable: start again with the same --out)")
    p.add_argument("--phase1-steps", type=int, default=P.phase1_steps)
    p.add_argument("--phase1-epochs", type=float, default=P.phase1_epochs,
                   help="passes over the phase-1 texts (instead of --phase1-steps)")
    p.add_argument("--phase2-steps", type=int, default=P.phase2_steps,
                   help="alignment (SFT) steps; 0 = no alignment phase (cls only): the model is phase 1's, "
                        "the LM untouched, refusals come from the head and strategic decoding")
    p.add_argument("--batch-size", type=int, default=T.batch_size)
    p.add_argument("--phase1-batch-size", type=int, default=P.phase1_batch_size,
                   help="batch of phase 1 (default: --batch-size)")
    p.add_argument("--grad-accum", type=int, default=T.grad_accum)
    p.add_argument("--max-length", type=int, default=T.max_length)
    p.add_argument("--lora-r", type=int, default=T.lora_r)
    p.add_argument("--lora-alpha", type=float, default=None, help="LoRA scale numerator (default: 2 x --lora-r)")
    p.add_argument("--lora-dropout", type=float, default=T.lora_dropout)
    p.add_argument("--lr", type=float, default=T.lr)
    p.add_argument("--head-lr", type=float, default=T.head_lr)
    p.add_argument("--cls-label-smoothing", type=float, default=T.cls_label_smoothing, metavar="EPS",
                   help="label smoothing of the [CLS] loss in both phases (default: %(default)s)")
    p.add_argument("--lam1", type=float, default=P.lam1)
    p.add_argument("--lam2", type=float, default=P.lam2)
    p.add_argument("--phase1-head-lr", type=float, default=P.phase1_head_lr,
                   help="head/[CLS] lr of phase 1 (default: --head-lr)")
    p.add_argument("--phase1-from", default=P.phase1_from, metavar="DIR",
                   help="start phase 2 from a finished phase 1 (e.g. runs/train-default/phase1/final) "
                        "instead of training one (cls only)")
    p.add_argument("--phase1-views", action="store_true",
                   help="phase 1 also on queries alone, query + first r1 response tokens and r-token windows")
    p.add_argument("--windows-per-answer", type=int, default=P.windows_per_answer)
    p.add_argument("--window-max-start", type=int, default=P.window_max_start)
    p.add_argument("--phase1-limit", type=int, default=P.phase1_limit,
                   help="at most N phase-1 sequences (a seeded sample)")
    p.add_argument("--harmful-completions", type=int, default=P.harmful_completions,
                   help="malicious training prompts the base model completes (harmful windows for phase 1)")
    p.add_argument("--completion-max-new-tokens", type=int, default=P.completion_max_new_tokens,
                   help="length of those completions in new tokens (default: %(default)s)")
    p.add_argument("--completion-prefill", action="append", default=None, metavar="TEXT",
                   help="an opening the base model continues when it writes those completions (repeat the flag "
                        "for several, cycled over the prompts; default: none, it answers the bare prompt)")
    p.add_argument("--completion-labels", default=None, metavar="FILE",
                   help="content labels of the harmful completions (JSONL: prompt, sha8, label harmful / harmless / "
                        "refusal): the windows of those read harmless or a refusal are trained as benign")
    p.add_argument("--completion-harmless", default=P.completion_harmless, choices=["benign", "drop"],
                   help="with --completion-labels: the windows of completions read harmless or a refusal are trained "
                        "as benign, or left out (default: %(default)s)")
    p.add_argument("--completion-bare-too", action="store_true",
                   help="with --completion-prefill: also answer the same prompts bare, and train on both kinds")
    p.add_argument("--cls-adapter-r", type=int, default=P.cls_adapter_r,
                   help="rank of the [CLS]-only adapter (0: none)")
    p.add_argument("--cls-adapter-alpha", type=float, default=P.cls_adapter_alpha)
    p.add_argument("--window-cls", action="store_true",
                   help="a second [CLS] embedding and head for the answer windows of rules 2-3 (the query judgement "
                        "keeps its own); needs --phase1-views")
    p.add_argument("--phase1-finetune", default=P.phase1_finetune, choices=["none", "lora"],
                   help="none: phase 1 trains [CLS], the head and the [CLS]-only adapter on a frozen LM; lora: "
                        "the paper's phase 1, LoRA on the LM with L_lm + lam1 * L_cls (no key/value memo: "
                        "every epoch runs the whole model) (default: %(default)s)")
    p.add_argument("--phase1-lm-positions", type=int, default=P.phase1_lm_positions, metavar="K",
                   help="with --phase1-finetune lora: L_lm on K seeded positions of each benign text, none on "
                        "malicious texts (0: every position) (default: %(default)s)")
    p.add_argument("--kv-store", default=None, metavar="DIR",
                   help="phase 1 with a frozen LM: read/write the base model's keys/values per sequence in DIR, "
                        "shared between runs on the same data (a second candidate skips the base model's pass)")
    p.add_argument("--group-by-length", action="store_true",
                   help="batches of sequences of similar length (less padding; what transformers' Trainer does with "
                        "group_by_length): worth it when phase 1 runs the whole LM (--phase1-finetune lora); a "
                        "run resumes only with the setting it started with")
    p.add_argument("--mask-guide", action="store_true",
                   help="no SFT loss on the guide tokens of refusals (the head decides to refuse)")
    p.add_argument("--retain-limit", type=int, default=P.retain_limit,
                   help="answer at most N benign prompts with the base model")
    p.add_argument("--retain-max-new-tokens", type=int, default=P.retain_max_new_tokens)
    p.add_argument("--answers-from", default=None, metavar="DIR",
                   help="an earlier run's data folder: reuse its retain set and harmful completions as they are "
                        "(the prompts still in the recipe; no new generation), e.g. after adding training prompts")
    p.add_argument("--retain-shuffle", action="store_true",
                   help="--retain-limit keeps a seeded sample of the benign prompts (not the first N)")
    p.add_argument("--retain-prefer", default="", metavar="SOURCES",
                   help="comma-separated recipe sources whose benign prompts are answered first (e.g. contrast: "
                        "benign windows on edgy topics for phase 1)")
    p.add_argument("--phase2-query-views", action="store_true",
                   help="benign training prompts without an answer enter phase 2 as query views (L_cls only)")
    p.add_argument("--phase2-head-lr", type=float, default=P.phase2_head_lr,
                   help="[CLS]/head/adapter lr in phase 2 (default: --head-lr; 0: frozen)")
    p.add_argument("--edgy-repeat", type=int, default=P.edgy_repeat,
                   help="repeat benign edgy training prompts k times (over-refusal)")
    p.add_argument("--val-limit", type=int, default=P.val_limit,
                   help="validation sequences scored at the end of each phase")
    p.add_argument("--val-views-limit", type=int, default=P.val_views_limit,
                   help="validation queries and windows scored for the AUROC after each phase")
    p.add_argument("--lm-reads-cls", type=on_off, default=P.lm_reads_cls, metavar="on|off",
                   help="recorded in the model: whether generated tokens attend to [CLS] (off: only the head reads "
                        "it; needs --phase2-steps 0; docs/method.md section 2) (default: on)")
    p.add_argument("--seed", type=int, default=T.seed)
    p.add_argument("--recipe-seed", type=int, default=None,
                   help="seed of the recipe's train / validation split (default: --seed); a replication with another "
                        "--seed keeps the split with --recipe-seed 0")
    p.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:1 ... (default: a visible GPU, LOCAL_RANK's under torchrun, else cpu)")
    p.add_argument("--publish", default=None, metavar="NAME",
                   help="copy the result to saess/artifacts/NAME (default, sft, aug) so --model NAME loads it")
    p.set_defaults(func=cmd_train)

    b = sub.add_parser("bench-train", help="seconds per optimiser step of each training phase (vs phase 1 as before)")
    b.add_argument("--model", default="base", help="base model to time (default: the embedded one)")
    b.add_argument("--batch-size", type=int, default=B.batch_size)
    b.add_argument("--steps", type=int, default=B.steps)
    b.add_argument("--adapter-r", type=int, default=B.adapter_r)
    b.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    b.add_argument("--out", default=None, help="also write the JSON here")
    b.set_defaults(func=cmd_bench_train)

    r = sub.add_parser("signal-report", help="the head on every held-out set (incl. XSTest) and the utility cost "
                                             "on the base model's own answers (final report of a kept model)")
    r.add_argument("--model", required=True, help="base, default, sft, aug or a saved folder")
    r.add_argument("--answer-tokens", type=int, default=64, help="length of the base model's answers")
    r.add_argument("--batch-size", type=int, default=16)
    r.add_argument("--out", default=None, help="also write the JSON here")
    r.set_defaults(func=cmd_signal_report)


def config_from_args(args) -> PipelineConfig:
    train = TrainConfig(batch_size=args.batch_size, grad_accum=args.grad_accum, max_length=args.max_length,
                        lora_r=args.lora_r, lora_alpha=args.lora_alpha or 2 * args.lora_r,
                        lora_dropout=args.lora_dropout, lr=args.lr, head_lr=args.head_lr, seed=args.seed,
                        kv_store=args.kv_store, cls_label_smoothing=args.cls_label_smoothing,
                        group_by_length=args.group_by_length)
    return PipelineConfig(variant=args.variant, base=args.base, train=train, phase1_steps=args.phase1_steps,
                          phase1_epochs=args.phase1_epochs, phase2_steps=args.phase2_steps, lam1=args.lam1,
                          lam2=args.lam2, phase1_head_lr=args.phase1_head_lr,
                          phase1_batch_size=args.phase1_batch_size, phase1_from=args.phase1_from,
                          phase1_views=args.phase1_views, windows_per_answer=args.windows_per_answer,
                          window_max_start=args.window_max_start, phase1_limit=args.phase1_limit,
                          harmful_completions=args.harmful_completions, cls_adapter_r=args.cls_adapter_r,
                          window_cls=args.window_cls,
                          completion_max_new_tokens=args.completion_max_new_tokens,
                          completion_prefills=tuple(args.completion_prefill or ()),
                          completion_bare_too=args.completion_bare_too,
                          completion_labels=args.completion_labels,
                          completion_harmless=args.completion_harmless, recipe_seed=args.recipe_seed,
                          cls_adapter_alpha=args.cls_adapter_alpha, mask_guide=args.mask_guide,
                          edgy_repeat=args.edgy_repeat, retain_limit=args.retain_limit,
                          retain_max_new_tokens=args.retain_max_new_tokens, val_limit=args.val_limit,
                          retain_shuffle=args.retain_shuffle, answers_from=args.answers_from,
                          retain_prefer=tuple(x.strip() for x in args.retain_prefer.split(",") if x.strip()),
                          phase2_query_views=args.phase2_query_views,
                          phase2_head_lr=args.phase2_head_lr, phase1_finetune=args.phase1_finetune,
                          phase1_lm_positions=args.phase1_lm_positions,
                          val_views_limit=args.val_views_limit, lm_reads_cls=args.lm_reads_cls)


def cmd_bench_train(args) -> int:
    cfg = TrainBenchConfig(batch_size=args.batch_size, steps=args.steps, adapter_r=args.adapter_r)
    device = training_device(args.device)
    res = run_train_bench(lambda: SafetyModel.from_base(args.model, device=device), cfg)
    text = json.dumps(res, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


def cmd_signal_report(args) -> int:
    model = load_safety_model(args.model)
    res = signal_report(model, args.model, batch_size=args.batch_size, answer_tokens=args.answer_tokens)
    text = json.dumps(res, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


def cmd_train(args) -> int:
    cfg = config_from_args(args)
    device = training_device(args.device)
    init_distributed(device)
    final = run_pipeline(cfg, args.out, device=device)
    rank, _ = world()
    if rank == 0:
        logger.info("trained model in %s", final)
        if args.publish:
            dest = publish(final, args.publish)
            logger.info("published as %r in %s", args.publish, dest)
        print(json.dumps({"final": str(final), "publish": args.publish}))
    return 0
