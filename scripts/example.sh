#!/usr/bin/env bash
# Kiln's main job, end to end, on the sklearn-diabetes example (fixtures/sklearn-diabetes):
#   1. installs the Debian packages that are missing (scripts/needs.sh example);
#   2. builds the release binary, .build/release/kiln;
#   3. builds the debian-python base from Debian packages (base-images/debian-python.sh; debootstrap needs root);
#   4. trains the model on the diabetes data set that scikit-learn ships (a venv from PyPI, kept in out/);
#   5. kiln build: inferenceconfig.json + the model → an image that starts AzureML's inference server, in
#      out/sklearn-diabetes/image (an OCI layout). Pip packages come from PyPI (or PIP_INDEX_URL).
# Then run it with: .build/release/kiln run oci:out/sklearn-diabetes/image:1 --request out/sklearn-diabetes/request.json
# Idempotent: each step is skipped when its result is there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/needs.sh example
out=out/sklearn-diabetes
mkdir -p "$out"
if ! swift build -c release --product kiln > "$out/swift-build.log" 2>&1; then
  tail -n 20 "$out/swift-build.log" >&2
  echo "kiln: the release build failed (the whole log: $out/swift-build.log)" >&2
  exit 1
fi
bash base-images/debian-python.sh >/dev/null
if [ ! -f "$out/venv/.complete" ]; then
  rm -rf "$out/venv"
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install --quiet ${PIP_INDEX_URL:+--index-url "$PIP_INDEX_URL"} scikit-learn joblib
  touch "$out/venv/.complete"
fi
[ -f "$out/model/model.pkl" ] || "$out/venv/bin/python" fixtures/sklearn-diabetes/train.py "$out" >/dev/null
# The image's scikit-learn is the one the model was trained with (train.py pins it in requirements.txt).
.build/release/kiln build fixtures/sklearn-diabetes/inferenceconfig.json --model "diabetes:1=$out/model" \
  --requirements "$out/requirements.txt" ${PIP_INDEX_URL:+--index-url "$PIP_INDEX_URL"} --output "oci:$out/image:1"
