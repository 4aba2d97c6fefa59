#!/usr/bin/env bash
# Install torch==$2 into the environment of python $1, never a multi-GB CUDA build on a CPU-only
# machine. Order: already installed -> keep; NVIDIA driver present -> PyPI's (CUDA) build;
# otherwise a local CPU wheel (pip's find-links, no download), else the PyTorch CPU index.
set -euo pipefail
py=$1; version=$2; cpu_index=${3:-https://download.pytorch.org/whl/cpu}

if "$py" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$version')" 2>/dev/null; then
  echo "torch $version already installed"; exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  exec "$py" -m pip install "torch==$version"
fi
if "$py" -m pip install -q --no-index --no-deps "torch==$version" 2>/dev/null; then
  echo "torch $version: local CPU wheel"
  "$py" -m pip install -q "torch==$version"          # its dependencies, from the usual index
elif "$py" -c "import urllib.request as u; u.urlopen('$cpu_index/', timeout=10)" 2>/dev/null; then
  "$py" -m pip install "torch==$version" --index-url "$cpu_index" \
    --extra-index-url https://pypi.org/simple
else
  echo "error: no local CPU wheel of torch $version and $cpu_index cannot be reached;" \
       "install a CPU build of torch into $py yourself, then re-run make" >&2
  exit 1
fi
if "$py" -c "import sys, torch; sys.exit(torch.version.cuda is not None)"; then
  echo "torch $version (CPU build) installed"
else
  echo "warning: a CUDA build of torch was installed on a machine without nvidia-smi" >&2
fi
