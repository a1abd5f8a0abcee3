"""`saess judge RUN [RUN ...]`: rejudge finished `saess eval` run folders with another judge,
without generating (see `saess.evaluation.rejudge`), and `saess judge --table`: the judge
table on the check sets (see `saess.judges.measure`)."""

from __future__ import annotations

import sys

from saess.errors import InputError
from saess.evaluation.rejudge import correct_only, read_run, rejudge
from saess.flags import one_line_errors
from saess.judges.measure import main as measure_main


def cmd_judge(args) -> int:

    if args.table:

        argv = [] if args.markdown is None else ["--markdown", args.markdown]
        return measure_main(argv)
    if not args.runs:
        raise InputError("give a run folder to rejudge (or --table)")
    if args.out is not None and len(args.runs) > 1:
        raise InputError("--out needs exactly one run folder")

    if args.correct_only:
        outs = [correct_only(run, args.out) for run in args.runs]
        for out, _, md in outs:
            sys.stdout.write(f"wrote {out}\n\n{md}\n")
        sys.stdout.flush()
        return 0
    for run in args.runs:  # check every folder before writing anything
        read_run(run)
    for run in args.runs:
        out, _, md = rejudge(run, args.out, args.judge)
        sys.stdout.write(f"wrote {out}\n\n{md}\n")
    sys.stdout.flush()
    return 0


def register_judge_command(sub) -> None:
    p = sub.add_parser(
        "judge", help="rejudge finished eval run folders (no generation), with raw and corrected rates",
        description="Apply a judge to the samples of existing `saess eval` run folders and write, for each, a new "
                    "run folder (default RUN-rejudged) whose summary carries the raw rates and the rates corrected "
                    "for the judge's measured errors (Rogan-Gladen, gold check set). RUN itself is never written. "
                    "`--table` prints the judge table on the check sets instead. See docs/judges.md.")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run folders (config.json + samples.jsonl)")
    p.add_argument("--judge", default="saess:v1",
                   help="saess:v1 (default: refusal rules + trained harm judge) | rules:refusal | "
                        "trained:refusal[+offtopic] (rules or n-gram regression; for over-refusal) | "
                        "keyword:gcg[:nocase][:quotes] | keyword:harmbench | keyword:gcg-short")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (one RUN only; default RUN-rejudged)")
    p.add_argument("--correct-only", action="store_true",
                   help="no rejudging: add corrected rates for the run's own judge to a copy of its summary.json "
                        "(needs only summary.json; default output RUN-corrected)")
    p.add_argument("--table", action="store_true", help="print the judge table on all check sets")
    p.add_argument("--markdown", default=None, metavar="FILE", help="with --table: also write it here")
    one_line_errors(p)
    p.set_defaults(func=cmd_judge)
