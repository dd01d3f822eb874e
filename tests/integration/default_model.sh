#!/usr/bin/env bash
# The training script reproduces the committed default model byte for byte:
# prepares the data (shared/data and the Debian media it fetches) into a temporary
# folder, trains with the given avfuse binary, and compares with models/default.model.
# Then the quality floor: avfuse eval with the committed model on the prepared
# val.csv and val_emodb.csv fails when a figure falls under its floor below.
# Usage: default_model.sh AVFUSE_BIN. Skips (exit 77) when ../shared/data is absent.
set -euo pipefail

# The quality floors, a little (about 0.02) below the committed model's figures on
# the validation split (docs/models.md, "Validation"), so that a change that
# breaks the model cannot land quietly. no_voice_polar is a ceiling, about 0.02
# above. Move them with the figures when the model is retrained. Names: avfuse
# eval --help.
VAL_FLOORS="content_macro_f1=0.88 valence_uar=0.70 arousal_uar=0.92 mixture_both=0.37
  music_onset_1s=0.72 neutral_speech_neutral=0.77 affect_negative=0.84 no_voice_polar=0.10"
VAL_EMODB_FLOORS="content_macro_f1=0.98 valence_uar=0.54 arousal_uar=0.93"

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
timeout 900 "$avfuse" train --manifest "$out/train.csv" --hidden 64 --l2 1e-2 --name default-3 \
  --summary "$out/data_summary.json" -o "$out/default.model"
if cmp "$out/default.model" "$root/models/default.model"; then
  echo "OK: the trained model is identical to models/default.model"
else
  echo "FAIL: the trained model differs from models/default.model" >&2
  diff <(sed -n 1p "$out/default.model") <(sed -n 1p "$root/models/default.model") >&2 || true
  exit 1
fi
for split in val val_emodb; do
  if [ "$split" = val ]; then floors=$VAL_FLOORS; else floors=$VAL_EMODB_FLOORS; fi
  args=()
  for f in $floors; do args+=(--floor "$f"); done
  if ! "$avfuse" eval --manifest "$out/$split.csv" --model "$root/models/default.model" \
      "${args[@]}" > "$out/eval-$split.txt"; then
    cat "$out/eval-$split.txt" >&2
    echo "FAIL: the default model is under a quality floor on $split.csv (see above)" >&2
    exit 1
  fi
  echo "OK: $split.csv above its floors ($floors)"
done
