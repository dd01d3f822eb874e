#!/usr/bin/env bash
# The training script reproduces the committed default model byte for byte:
# prepares the data (shared/data and the Debian media it fetches) into a temporary
# folder, trains with the given avfuse binary, and compares with models/default.model.
# Usage: default_model.sh AVFUSE_BIN. Skips (exit 77) when ../shared/data is absent.
set -euo pipefail
avfuse=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
data=$root/../shared/data
if [ ! -f "$data/README.md" ]; then
  echo "SKIP: $data not found"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 "$root/models/prepare_data.py" --data "$data" --out "$out" > "$out/prepare.log"
# the options of models/train_default.sh
timeout 900 "$avfuse" train --manifest "$out/train.csv" --name default-2 \
  --summary "$out/data_summary.json" -o "$out/default.model"
if cmp "$out/default.model" "$root/models/default.model"; then
  echo "OK: the trained model is identical to models/default.model"
else
  echo "FAIL: the trained model differs from models/default.model" >&2
  diff <(sed -n 1p "$out/default.model") <(sed -n 1p "$root/models/default.model") >&2 || true
  exit 1
fi
