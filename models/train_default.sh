#!/bin/sh
# Rebuilds models/default.model from the shared recordings (models/README.md).
# Usage: models/train_default.sh [prepare_data.py options, e.g. --cache DIR]
# The Debian media cache is $AVFUSE_CACHE, else ~/.cache/avfuse-media.
set -eu
cd "$(dirname "$0")/.."

if [ ! -x build/tools/avfuse ]; then
    cmake -S . -B build -DAVFUSE_TESTS=OFF
    cmake --build build -j2
fi

python3 models/prepare_data.py "$@"

# --hidden 64 --l2 1e-2: chosen by grouped 5-fold cross-validation on train.csv
# (docs/models-notebook.md, "default-3"); tests/integration/default_model.sh
# passes the same options.
build/tools/avfuse train --manifest build/models/train.csv --hidden 64 --l2 1e-2 \
    --name default-3 --summary build/models/data_summary.json -o models/default.model

# Both evaluations go to the terminal and to build/models/eval.txt; the script
# fails if either evaluation fails (a plain pipe into tee would hide that).
: > build/models/eval.txt
for m in val val_emodb; do
    echo "== eval $m.csv" | tee -a build/models/eval.txt
    rc_file=build/models/.eval_rc
    { rc=0
      build/tools/avfuse eval --manifest "build/models/$m.csv" \
          --model models/default.model 2>&1 || rc=$?
      echo "$rc" > "$rc_file"; } | tee -a build/models/eval.txt
    rc=$(cat "$rc_file")
    rm -f "$rc_file"
    if [ "$rc" -ne 0 ]; then
        echo "train_default.sh: avfuse eval on $m.csv failed (exit $rc)" >&2
        exit "$rc"
    fi
done
