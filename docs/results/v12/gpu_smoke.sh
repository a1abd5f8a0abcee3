#!/usr/bin/env bash
# Issue 11, session 12, device call 1: versions, and the tests of generation and of the [CLS]-only
# adapter with their tiny models on the GPU (SAESS_TEST_DEVICE, saess/testing.py).
. docs/results/v12/gpu_env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, transformers, peft, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'accelerate', accelerate.__version__, 'cuda', torch.cuda.is_available())"
SAESS_TEST_DEVICE=cuda timeout 75 python3 -m pytest -q -p no:cacheprovider --maxfail=5 tests/test_generation.py tests/test_cls_adapter.py 2>&1 | tail -40
