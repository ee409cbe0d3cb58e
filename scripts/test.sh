#!/usr/bin/env bash
# The whole test suite: unit tests, CLI tests driving the binary, and interop tests against the real
# MLflow Python client (installed here into a venv, once, if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MLX_VENV:-$HOME/.cache/mlx-ci/venv}"
if ! "$VENV/bin/python" -c 'import sys, mlflow; sys.exit(mlflow.__version__ != "3.17.2")' 2>/dev/null; then
  echo "test.sh: installing tests/requirements.txt into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r tests/requirements.txt
fi
export MLX_TEST_PYTHON="$VENV/bin/python"
cargo test --all-targets
