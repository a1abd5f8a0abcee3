"""`saess train`: the pipeline of `saess.training.pipeline` from the command line."""

from __future__ import annotations

import json
import logging

logger = logging.getLogger("saess")


def register_training_commands(sub) -> None:
    p = sub.add_parser("train", help="train the safety signal (cls) or a baseline (sft, aug) on the packaged recipe")
    p.add_argument("--variant", default="cls", choices=["cls", "sft", "aug"])
    p.add_argument("--base", default="base", help="base model: 'base' (embedded SmolLM2-135M-Instruct) or a path")
    p.add_argument("--out", required=True, help="run folder (resumable: start again with the same --out)")
    p.add_argument("--phase1-steps", type=int, default=60)
    p.add_argument("--phase2-steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--lam1", type=float, default=0.01)
    p.add_argument("--lam2", type=float, default=0.1)
    p.add_argument("--phase1-head-lr", type=float, default=None, help="head/[CLS] lr of phase 1 (default: --head-lr)")
    p.add_argument("--phase1-from", default=None, metavar="DIR",
                   help="start phase 2 from a finished phase 1 (e.g. runs/train-default/phase1/final) "
                        "instead of training one (cls only)")
    p.add_argument("--retain-limit", type=int, default=None, help="answer at most N benign prompts with the base model")
    p.add_argument("--retain-max-new-tokens", type=int, default=96)
    p.add_argument("--edgy-repeat", type=int, default=1,
                   help="repeat benign edgy training prompts k times (over-refusal)")
    p.add_argument("--val-limit", type=int, default=200,
                   help="validation sequences scored at the end of each phase (200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--publish", default=None, metavar="NAME",
                   help="copy the result to saess/artifacts/NAME (default, sft, aug) so --model NAME loads it")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from saess.training.pipeline import PipelineConfig, publish, run_pipeline
    from saess.training.trainer import init_distributed, world

    cfg = PipelineConfig(variant=args.variant, base=args.base, phase1_steps=args.phase1_steps,
                         phase2_steps=args.phase2_steps, batch_size=args.batch_size, grad_accum=args.grad_accum,
                         max_length=args.max_length, lora_r=args.lora_r, lora_alpha=2 * args.lora_r, lr=args.lr,
                         head_lr=args.head_lr, lam1=args.lam1, lam2=args.lam2, phase1_head_lr=args.phase1_head_lr,
                         phase1_from=args.phase1_from, edgy_repeat=args.edgy_repeat, retain_limit=args.retain_limit,
                         retain_max_new_tokens=args.retain_max_new_tokens, val_limit=args.val_limit,
                         seed=args.seed)
    init_distributed()
    final = run_pipeline(cfg, args.out)
    rank, _ = world()
    if rank == 0:
        logger.info("trained model in %s", final)
        if args.publish:
            dest = publish(final, args.publish)
            logger.info("published as %r in %s", args.publish, dest)
        print(json.dumps({"final": str(final), "publish": args.publish}))
    return 0
