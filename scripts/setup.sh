#!/usr/bin/env bash
# Create ./.venv (if missing) and install vecbridge into it. `setup.sh dev` adds test/reference deps.
# torch is installed first, pinned, so pip takes the CPU build instead of a multi-GB CUDA one.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# The machine's pip config lists local index folders that may be empty; drop pip's noise about them.
pip_install() {
  .venv/bin/python -m pip install -q --disable-pip-version-check "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
pip_install "torch==2.13.0"
extras="milvus,demo,onnx"  # onnx: the default CPU encoder backend (Settings.encoder_backend="auto")
if [ "${1:-}" = "dev" ]; then
  extras="milvus,elasticsearch,onnx,eval,demo,splade-demo,dev,ray,langchain-tests,llamaindex,haystack,files"
fi
pip_install -e ".[${extras}]"
