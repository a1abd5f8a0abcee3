"""`saess reproduce`: the paper's experiments at small scale (plan, run, probe, report)."""
