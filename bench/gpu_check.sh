#!/usr/bin/env bash
# Prove the GPU path in one command, within about 8 minutes on an H100/H200-class machine:
# correctness in fp16, speed beside the reference in the same run, the decoder's batched speed.
#
#   bash bench/gpu_check.sh            # on a CUDA machine (torch, transformers, accelerate there)
#   OUT=DIR bash bench/gpu_check.sh --dry-run   # the same steps with the tiny model on the CPU
#
# A bare GPU machine without internet lacks diffusers, soundfile and the reference; keep their
# wheels in .whl/ (ignored by git), fetched beforehand on any machine with pip (CPython 3.12):
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl diffusers==0.42.1 importlib_metadata zipp soundfile cffi pycparser pydub riffusion==0.0.5
#
# Figures land in $OUT (default bench/out/): correctness.json, speed.json, codec.json and
# gpu_check.json with all of them, and gpu_check.txt, a short table.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench/out}"
mkdir -p "$OUT"
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1

# 0. What the machine lacks, from the wheels beside the checkout (never from the network).
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/riff-site .whl/*.whl
  export PYTHONPATH="/tmp/riff-site${PYTHONPATH:+:$PYTHONPATH}"
fi

if [ "$DRY" = 1 ]; then
  DEVICE=cpu MODEL=tiny STEPS=6 CLIPS="2" REPEAT=1 CODEC=(--clips 2 --iters 8 --skip-reference)
  # Two 90 s pieces of synthetic music stand in for the soundtrack (the codec bench reads 40-80 s).
  MUSIC="$(mktemp -d)"
  "$PY" - "$MUSIC" <<'EOF'
import math, sys
import numpy as np, soundfile as sf
t = np.arange(90 * 44100) / 44100
for i, f in enumerate((220.0, 330.0)):
    tone = 0.3 * np.sin(2 * math.pi * f * t) * (0.6 + 0.4 * np.sin(2 * math.pi * 2 * t))
    sf.write(f"{sys.argv[1]}/piece{i}.wav", tone.astype(np.float32), 44100)
EOF
  CODEC+=(--audio-dir "$MUSIC")
else
  DEVICE=cuda MODEL=sd15 STEPS=50 CLIPS="8 16" REPEAT=2 CODEC=(--clips 8 --gpu-batch 32 --skip-reference)
  if [ ! -d /usr/share/games/nexuiz/data ]; then
    MUSIC="$(mktemp -d)"  # no soundtrack on the GPU machine: the codec bench times synthetic music
    "$PY" -c "import numpy as np, soundfile as sf; t=np.arange(90*44100)/44100; [sf.write(f'$MUSIC/p{i}.wav', (0.3*np.sin(2*np.pi*f*t)).astype(np.float32), 44100) for i, f in enumerate((110., 220., 330., 440., 550., 660., 770., 880.))]"
    CODEC+=(--audio-dir "$MUSIC")
  fi
fi
# The reference runs where riffusion imports: this python (wheels above), else the side venv.
REF=(--skip-reference)
if "$PY" -c "import riffusion, pydub, torchaudio" 2>/dev/null; then REF=(--reference-python "$(command -v "$PY")"); fi
if [ "$DRY" = 0 ] && [ "${REF[0]}" = --skip-reference ] && [ -x .ref-venv/bin/python ]; then REF=(); fi

step() { echo; echo "== $* ($(date +%T))"; }
step "1. correctness on $DEVICE ($MODEL)"
"$PY" bench/gpu_correctness.py --device "$DEVICE" --model "$MODEL" --steps "$((STEPS < 20 ? STEPS : 20))" \
  --json "$OUT/correctness.json" || echo "correctness: a check failed (see above)"
step "2. speed beside the reference"
# shellcheck disable=SC2086
"$PY" bench/bench_gpu.py --device "$DEVICE" --model "$MODEL" --steps "$STEPS" --clips $CLIPS \
  --repeat "$REPEAT" "${REF[@]}" --json "$OUT/speed.json" || echo "speed: failed (see above)"
step "3. the decoder, batched"
"$PY" bench/bench_codec.py "${CODEC[@]}" --json "$OUT/codec.json" || echo "codec: failed (see above)"
step "4. summary"
"$PY" - "$OUT" "$DRY" <<'EOF'
import json, sys
from pathlib import Path
out, dry = Path(sys.argv[1]), sys.argv[2] == "1"
parts = {name: json.loads((out / f"{name}.json").read_text()) if (out / f"{name}.json").exists() else None
         for name in ("correctness", "speed", "codec")}
summary = {"dry_run": dry, **parts}
summary["ok"] = all(parts.values()) and all(c["ok"] for c in parts["correctness"]["checks"])
(out / "gpu_check.json").write_text(json.dumps(summary, indent=2))
lines = [f"gpu_check {'(dry run) ' if dry else ''}{'ok' if summary['ok'] else 'NOT ok'}"]
for c in (parts["correctness"] or {}).get("checks", []):
    lines.append(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['check']}")
for row in (parts["speed"] or {}).get("rows", []):
    ref = f", reference {row['reference_seconds']} s, {row['speedup']}x" if row.get("reference_seconds") else ""
    lines.append(f"  {row['case']:<11} {row['clips']:>3} clips, batch {row['batch']}: {row['seconds']} s "
                 f"({row['audio_s_per_s']} audio s/s){ref}")
for name, r in ((parts["codec"] or {}).get("codec") or {}).items():
    lines.append(f"  decode {name}: {r.get('s_per_clip')} s a clip, mel SC {round(r.get('mel_sc', float('nan')), 4)}")
(out / "gpu_check.txt").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(0 if summary["ok"] else 1)
EOF
