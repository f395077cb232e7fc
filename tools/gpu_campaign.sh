#!/usr/bin/env bash
# The whole training campaign on one GPU, as one call: every shipped model, one at a time, `--device cuda` (bf16
# autocast), the GPU recipe's larger batches, BUDGET training minutes in all (default 6: data making and evaluation
# come on top, so the whole call stays within 10 minutes of one GPU). Each manifest entry's `campaign` record names
# the device and machine it was trained on. Arguments after the script's own are passed on and win, e.g. the CPU
# check the tests run:  tools/gpu_campaign.sh --device cpu --quick --budget 0.05 --out /tmp/x
set -euo pipefail
cd "$(dirname "$0")/.."
MATHPHYS=${MATHPHYS:-mathphys}
exec "$MATHPHYS" weights --budget "${BUDGET:-6}" --device cuda --gpu-recipe "$@"
