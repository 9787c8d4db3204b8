#!/usr/bin/env bash
# The whole test suite: installs what is missing (Debian packages, the peer venv), then runs every test target
# and the library example package. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/needs.sh test
# Peers (PyPI), in a venv the tests find: py-rattler, py-rattler-build and uv for the conda and pip tests,
# spdx-tools to validate the SBOM.
peers="py-rattler==0.28.0 py-rattler-build==0.73.0 uv==0.13.9 packaging==26.3 spdx-tools==0.8.5"
if [ "$(cat .venv-peers/.kiln-peers 2>/dev/null)" != "$peers" ]; then
  [ -x .venv-peers/bin/python ] || python3 -m venv .venv-peers
  .venv-peers/bin/pip install --quiet $peers
  echo "$peers" > .venv-peers/.kiln-peers
fi
swift test
# What users run: the CLI, peer and end-to-end tests again, against the optimised binary (an optimised build once
# crashed where the debug build passed).
swift build -c release --product kiln
KILN_BIN="$PWD/.build/release/kiln" swift test --filter CLITests
# Kiln as a library: a separate package that depends on it by path builds an image, and umoci reads it.
swift test --package-path Examples/BuildImage
# Every parser of untrusted bytes under libFuzzer and AddressSanitizer: each target's corpus (fixtures/fuzz) plus
# a fixed number of new inputs, a few minutes in all after a cold build (docs/fuzzing.md).
bash scripts/fuzz.sh --ci
