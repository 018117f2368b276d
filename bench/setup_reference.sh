#!/usr/bin/env bash
# Create a side virtual environment holding the original Riffusion reference
# (riffusion==0.0.5, spectrogram converter only) for side-by-side benchmarks.
#
# Usage: bash bench/setup_reference.sh
#   RIFF_REF_VENV  venv path (default: <repo>/.ref-venv)
#   PYTHON         interpreter used to create it (default: python3)
# Idempotent: exits at once when the venv already imports everything needed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${RIFF_REF_VENV:-$repo_root/.ref-venv}"
python="${PYTHON:-python3}"
check='import torch, torchaudio, pydub, scipy.io.wavfile, PIL, numpy, riffusion.spectrogram_params'
check="$check, diffusers, transformers, accelerate"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "reference venv ready: $venv"
    exit 0
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
# PyPI's Linux torch wheel is the CUDA build (pulls nvidia-* wheels, several GB); it runs on CPU.
"${pip[@]}" 'torch==2.9.1'
"${pip[@]}" 'torch==2.9.1' 'torchaudio==2.9.*'
# The reference pins torch<2 and many server/UI deps; its converter needs only these.
"${pip[@]}" --no-deps 'riffusion==0.0.5'
"${pip[@]}" 'pydub==0.25.*' numpy scipy 'pillow<13'
# Its pipeline (bench/reference_pipeline.py) needs diffusers and transformers; 0.0.5 pins
# transformers<5, but with the two import shims of SPEC section 7 it runs on riff's versions.
"${pip[@]}" 'diffusers==0.42.1' 'transformers==5.24.0' 'accelerate==1.15.0'

"$venv/bin/python" -c "$check"
echo "reference venv ready: $venv"
