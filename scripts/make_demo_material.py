"""Builds the demo recording bundled with livesep (python/livesep/data/demo/).

A few seconds of the corpus's male-female test mixture (allowed readers da and en_GB, their
test clips, never used in training), stored as 16-bit FLAC with the references quantised
first and the mixture their exact sum, so scores against the references are exact.

    python scripts/build_corpus.py --out corpus --only speech,mixtures
    python scripts/make_demo_material.py --corpus corpus
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

PAIR = "male-female-da-en_GB"
SOURCES = ("male", "female")
PRESET = "male-female-nhmm"
SECONDS = 6.0
OUT = Path(__file__).resolve().parents[1] / "python" / "livesep" / "data" / "demo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="corpus", type=Path)
    args = parser.parse_args()
    folder = args.corpus / "mixtures" / PAIR
    references = []
    for name in SOURCES:
        y, sr = sf.read(folder / f"{name}.wav", dtype="float64")
        references.append(y[: int(SECONDS * sr)])
    stacked = np.stack(references)
    # Headroom so that the int16 sum of the quantised references cannot clip.
    scale = 0.45 / np.abs(stacked).max()
    quantised = np.round(stacked * scale * 32767).astype(np.int16)
    mixture = quantised.astype(np.int32).sum(axis=0)
    assert np.abs(mixture).max() < 32767
    OUT.mkdir(parents=True, exist_ok=True)
    sf.write(OUT / "mix.flac", mixture.astype(np.int16), sr, subtype="PCM_16")
    for name, reference in zip(SOURCES, quantised):
        sf.write(OUT / f"{name}.flac", reference, sr, subtype="PCM_16")
    meta = {"preset": PRESET, "sources": list(SOURCES), "sr": sr, "seconds": SECONDS,
            "origin": f"corpus mixtures/{PAIR}: klettres-data readers da (male) and en_GB "
                      "(female), test clips, 0 dB; built by scripts/build_corpus.py"}
    (OUT / "demo.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
