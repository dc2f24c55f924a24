#!/usr/bin/env bash
# Creates bench/.litellm-venv: costmodel (editable) + litellm, for the pricing benchmark only.
# LiteLLM is never a dependency of costmodel. Idempotent: re-running only fills in what is missing.
set -euo pipefail

LITELLM_VERSION="1.110.2"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$here/.litellm-venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
py="$venv/bin/python"

# litellm at the pinned version (skip pip entirely if already there).
if ! "$py" -P -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != '$LITELLM_VERSION')" 2>/dev/null; then
    "$py" -m pip install --quiet "litellm==$LITELLM_VERSION"
fi

# costmodel from this checkout, editable, so the benchmark measures the working tree.
# (-P: do not put the current directory on sys.path, or the check would see ./costmodel.)
if ! "$py" -P -c "import costmodel, importlib.metadata as m, pathlib, sys; m.version('costmodel'); sys.exit(pathlib.Path(costmodel.__file__).resolve().parents[1] != pathlib.Path('$root'))" 2>/dev/null; then
    "$py" -m pip install --quiet -e "$root"
fi

"$py" -P - <<'PY'
import importlib.metadata as m
print("bench venv ready: litellm", m.version("litellm"), "| costmodel", m.version("costmodel"))
PY
