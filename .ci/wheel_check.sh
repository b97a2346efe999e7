#!/usr/bin/env bash
# Build the wheel, install it with its quickstart extras into an empty venv, and run `vecbridge quickstart`
# from an empty folder, so nothing of the checkout is on the path.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel . --no-deps --no-build-isolation -q -w "$work/dist"
wheel=$(ls "$work"/dist/vecbridge-*.whl)
python3 -m venv "$work/venv"
pip_install() {
  "$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
pip_install "torch==2.13.0"
pip_install "${wheel}[milvus,demo,onnx]"
mkdir "$work/empty" && cd "$work/empty"
"$work/venv/bin/vecbridge" quickstart > "$work/quickstart.out"
tail -n 5 "$work/quickstart.out"
echo "wheel check: quickstart ran from an installed wheel in an empty folder"
