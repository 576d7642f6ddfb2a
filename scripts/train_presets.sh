#!/usr/bin/env bash
# Trains every shipped preset in presets/ from the corpus, one `livesep train` command each
# (the same commands presets/README.md records). Deterministic: fixed seeds, fixed data.
#   bash scripts/train_presets.sh [PRESET ...]     (default: all)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
livesep=".venv/bin/livesep"
corpus="${CORPUS:-corpus}"
[ -f "$corpus/manifest.json" ] || .venv/bin/python scripts/build_corpus.py --out "$corpus" --quiet
# The full-band (48 kHz) presets learn from a corpus built at 48 kHz, made when one is wanted.
corpus48="${CORPUS48:-corpus48}"
# One BLAS thread: steadier training times on a shared 2-core machine.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

s="$corpus/speech"
# The speech model hears eight readers; the test readers lt, uk and es stay unheard.
speech="$s/en/train.wav,$s/da/train.wav,$s/en_GB/train.wav,$s/nl/train.wav,$s/pt_BR/train.wav"
speech="$speech,$s/he/train.wav,$s/tn/train.wav,$s/ml/train.wav"
n="$corpus/noise"
noise="$n/breath/train.wav,$n/seashore/train.wav,$n/helicopter/train.wav"
noise="$noise,$n/applause/train.wav,$n/cymbals/train.wav"

train() {
  local name="$1"; shift
  echo "== $name"
  /usr/bin/time -f "   %e s" "$livesep" train --out "presets/$name.npz" --name "$name" --quiet "$@"
}

want() { [ ${#selected[@]} -eq 0 ] || [[ " ${selected[*]} " == *" $1 "* ]]; }
selected=("$@")

want speech-noise-nmf && train speech-noise-nmf --model nmf --components 32 --seed 0 \
  --source "speech=$speech" --source "noise=$noise" \
  --description "A voice (any speaker) in background noise. Speech: KL-NMF, 32 components, eight klettres-data readers; noise: KL-NMF, 32 components, breath, seashore, helicopter, applause and cymbals."
want speech-noise-nhmm && train speech-noise-nhmm --model nhmm --components 10 --states 20 \
  --states noise=4 --floor noise=30 --seed 0 --source "speech=$speech" --source "noise=$noise" \
  --description "A voice (any speaker) in background noise. Speech: N-HMM, 20 states x 10 components, eight klettres-data readers; noise: N-HMM, 4 states x 10 components, breath, seashore, helicopter, applause and cymbals, and the noise floor tracked from the stream."
want male-female-nmf && train male-female-nmf --model nmf --components 32 --seed 0 \
  --source "male=$s/da/train.wav" --source "female=$s/en_GB/train.wav" \
  --description "Two known speakers: klettres-data readers da (male) and en_GB (female). KL-NMF, 32 components each."
want male-female-nhmm && train male-female-nhmm --model nhmm --components 10 --states 20 --seed 0 \
  --source "male=$s/da/train.wav" --source "female=$s/en_GB/train.wav" \
  --description "Two known speakers: klettres-data readers da (male) and en_GB (female). N-HMM, 20 states x 10 components each."
want bass-drums-nmf && train bass-drums-nmf --model nmf --components 32 --seed 0 \
  --source "bass=$corpus/instruments/finger_bass/train.wav" --source "drums=$corpus/drums/train.wav" \
  --description "Finger bass (FluidR3_GM) over acoustic and electronic drum kits (hydrogen). KL-NMF, 32 components each."
want bass-drums-nhmm && train bass-drums-nhmm --model nhmm --components 10 --states 20 --seed 0 \
  --source "bass=$corpus/instruments/finger_bass/train.wav" --source "drums=$corpus/drums/train.wav" \
  --description "Finger bass (FluidR3_GM) over acoustic and electronic drum kits (hydrogen). N-HMM, 20 states x 10 components each."
want bass-drums-nmfd && train bass-drums-nmfd --model nmfd --components 16 --frames 4 --seed 0 \
  --source "bass=$corpus/instruments/finger_bass/train.wav" --source "drums=$corpus/drums/train.wav" \
  --description "Finger bass (FluidR3_GM) over acoustic and electronic drum kits (hydrogen). Convolutive NMF (NMFD, KL): 16 patches of 4 frames (32 ms) each, so drum hits keep their decay."
want piano-sax-nmf && train piano-sax-nmf --model nmf --components 32 --seed 0 \
  --source "piano=$corpus/instruments/piano/train.wav" --source "sax=$corpus/instruments/alto_sax/train.wav" \
  --description "Piano and alto sax (FluidR3_GM). KL-NMF, 32 components each."
want piano-sax-nhmm && train piano-sax-nhmm --model nhmm --components 10 --states 20 --seed 0 \
  --source "piano=$corpus/instruments/piano/train.wav" --source "sax=$corpus/instruments/alto_sax/train.wav" \
  --description "Piano and alto sax (FluidR3_GM). N-HMM, 20 states x 10 components each."
if want bass-drums-nhmm-48k; then
  # bass-drums-nhmm extended to 48 kHz (scripts/extend_preset.py): the same fit on the band
  # below 7.2 kHz, each source's spectrum above 8 kHz from its training material at 48 kHz.
  [ -f "$corpus48/manifest.json" ] || .venv/bin/python scripts/build_corpus.py --out "$corpus48" \
    --sr 48000 --only instruments,drums --quiet
  echo "== bass-drums-nhmm-48k"
  .venv/bin/python scripts/extend_preset.py presets/bass-drums-nhmm.npz --sr 48000 \
    --source "bass=$corpus48/instruments/finger_bass/train.wav" \
    --source "drums=$corpus48/drums/train.wav" --name bass-drums-nhmm-48k \
    --description "Finger bass (FluidR3_GM) over acoustic and electronic drum kits (hydrogen), full band at 48 kHz (1536 / 384 frames): bass-drums-nhmm (N-HMM, 20 states x 10 components each) fitted on the bins up to 7.2 kHz, each source's mean spectrum above 8 kHz from its training material at 48 kHz." \
    --out presets/bass-drums-nhmm-48k.npz
fi
