# Session 9: the refusal judge's cross-validation on a wider grid (docs/judges.md). Run: python docs/results/v9/refusal_judge_grid.py
# Prints seconds, chosen opening length, L2, threshold, CV counts and the F1 of every grid cell; writes no file.
import time

import saess.judges.refusal_model as rm

rows = rm.training_rows()
t=time.time()
rm.HEAD_CHARS_GRID=(300,600,1000,2000)
rm.L2_GRID=(0.3,1.0,3.0,10.0)
m = rm.train(rows)
print(time.time()-t, m["head_chars"], m["l2"], m["threshold"], m["cv"], m["grid_f1"])
