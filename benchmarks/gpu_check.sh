#!/usr/bin/env bash
# One call on a machine with a CUDA GPU: the CUDA tests, then the benchmarks on cuda (the engine with CUDA graphs
# on and off, against the tutorial, sequential and stacked baselines).
# Expects wheels for what the machine lacks in .whl/ and MNIST in $INITTUI_DATA_DIR (default .device/mnist).
set -uo pipefail
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export INITTUI_DATA_DIR="${INITTUI_DATA_DIR:-$PWD/.device/mnist}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
echo "== CUDA tests"
python3 -m pytest -q -p no:cacheprovider tests/test_engine.py tests/test_stacked.py tests/test_engine_loop.py tests/test_worker.py \
    -k "cuda or trajectory or child or graph" 2>&1 | tail -30
echo "== bench_engine compare (cuda): CUDA graphs on, then off"
python3 benchmarks/bench_engine.py --device cuda --preset compare
python3 benchmarks/bench_engine.py --device cuda --preset compare --cuda-graphs off
echo "== bench_engine atlas (cuda)"
python3 benchmarks/bench_engine.py --device cuda --preset atlas
echo "== bench_stats (cuda)"
python3 benchmarks/bench_stats.py --device cuda --repeats 2
if [ -f benchmarks/bench_ui.py ]; then
    echo "== bench_ui (cuda)"
    python3 benchmarks/bench_ui.py --device cuda
fi
echo "== headless compare, 2 epochs, cuda"
python3 -m inittui.cli train --headless --epochs 2 --device cuda --log-dir /tmp/runs --json
