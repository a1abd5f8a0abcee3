"""Issue 11, session 12: the eligibility guard's number for folders calibrated before `saess calibrate`
recorded it: `utility_rows` (LM loss on the benign validation answers vs the base model, as the folder's
config generates and, with a signal, both ways of --lm-reads-cls) written into each FOLDER/calibration.json
as "utility" and "utility_by_lm_reads_cls", as `saess calibrate` now does.
Usage: python docs/results/v12/add_utility.py FOLDER [...]"""
import json
import sys
from pathlib import Path

from saess.evaluation.calibration import utility_rows
from saess.model.registry import load_safety_model

for folder in sys.argv[1:]:
    cal = Path(folder) / "calibration.json"
    res = json.loads(cal.read_text())
    res.update(utility_rows(load_safety_model(folder)))
    cal.write_text(json.dumps(res, indent=2) + "\n")
    print(folder, json.dumps({k: v for k, v in res.items() if k.startswith("utility")}))
