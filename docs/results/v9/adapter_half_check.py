"""Session 9: does storing the [CLS]-only adapter in a 16-bit type change the head?

Usage: python docs/results/v9/adapter_half_check.py bfloat16
Copies runs/s9/v9r32bw-cal to /tmp/v9r32bw-half with the adapter tensors cast (the [CLS] embedding
and the head stay float32), scores the v4/v6 validation probes with both and prints the file sizes,
the largest and mean change of P(malicious) and the decisions that flip at the query threshold.
"""

import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from saess.model import SafetyModel

src, dst = Path("runs/s9/v9r32bw-cal"), Path("/tmp/v9r32bw-half")
if dst.exists():
    shutil.rmtree(dst)
shutil.copytree(src, dst)
st = load_file(src / "safety.safetensors")
dt = getattr(torch, sys.argv[1])
save_file({k: (v.to(dt) if k.startswith("cls_adapter.") else v) for k, v in st.items()}, dst / "safety.safetensors")
print("bytes", (src / "safety.safetensors").stat().st_size, (dst / "safety.safetensors").stat().st_size)
prompts = []
for f in ["docs/results/v4/val_malicious.jsonl", "docs/results/v4/val_benign.jsonl",
          "docs/results/v6/val_shapes_benign.jsonl"]:
    prompts += [json.loads(line)["prompt"] for line in open(f) if line.strip()]
torch.set_num_threads(1)
a = SafetyModel.from_pretrained(src).classify(prompts, batch_size=16)
b = SafetyModel.from_pretrained(dst).classify(prompts, batch_size=16)
thr = json.load(open(src / "saess_config.json"))["threshold"]
d = [abs(x - y) for x, y in zip(a, b, strict=True)]
flips = sum((x >= thr) != (y >= thr) for x, y in zip(a, b, strict=True))
print(len(prompts), "max |dp|", max(d), "mean", sum(d) / len(d), "decision flips at", thr, flips)
