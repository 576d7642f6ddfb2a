"""What the latency modes and the fit on bands cost in separation quality (issue 18).

On the corpus's test mixtures (``corpus/mixtures``: voice + noise of readers and noises the
speech presets never heard, speaker pairs), online SDR (BSS Eval, mean of the sources and
of the mixtures) of each preset in:

- ``standard``, ``low`` and ``ultra`` with the shipped presets (trained at 8 ms hops; the
  shorter hops keep the transitions' time constants: livesep.engine.frame_transitions);
- ``low`` and ``ultra`` with N-HMM presets retrained at the short hop (the same recipe, the
  hop ``latency_geometry`` runs or the nearest longer one dividing n_fft, as ``livesep train
  --latency`` does), so that their transitions are learned at that rate;
- ``standard`` and ``low`` fitting on bands above ``--bands-above`` Hz.

    python benchmarks/bench_latency.py [--corpus corpus] [--quick] [--preset NAME ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from livesep import load_preset  # noqa: E402
from livesep.engine import EngineSettings, latency_geometry  # noqa: E402
from livesep.evaluation.evaluate import evaluate_preset  # noqa: E402
from livesep.models.train import TrainSettings, train_preset  # noqa: E402
from livesep.presets import Preset  # noqa: E402

#: preset -> (mixture folders' prefix, per-source training overrides)
FAMILIES = {
    "male-female-nhmm": ("male-female-", {}),
    "speech-noise-nhmm": ("speech-noise-", {"noise": {"n_states": 4}}),
    "voice": ("speech-noise-", None),
}


def retrained(preset: Preset, latency: str, overrides: dict[str, dict[str, int]],
              root: Path) -> Preset:
    """``preset``'s N-HMM recipe (its sources' training files) at the hop ``latency`` runs,
    or the nearest longer one that divides n_fft (training frames overlap-add to one only
    then; the engine then scales the transitions the rest of the way)."""
    run_hop, _ = latency_geometry(preset, latency)
    hop = min(h for h in range(run_hop, preset.n_fft // 2 + 1) if preset.n_fft % h == 0)
    files = {source.name: [str(root / path) for path in source.provenance["files"]]
             for source in preset.sources}
    settings = TrainSettings(model="nhmm", n_components=10, n_states=20, sr=preset.sr,
                             n_fft=preset.n_fft, hop_length=hop, seed=0)
    return train_preset(files, settings, name=f"{preset.name}-hop{hop}", overrides=overrides)


def mean_online_sdr(preset: Preset, folders: list[Path], settings: EngineSettings) -> float:
    values = []
    for folder in folders:
        result = evaluate_preset(preset, folder, methods=("online",), settings=settings)
        values += [scores.methods["online"].mean("sdr") for scores in result.files]
    return float(np.mean(values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--corpus", type=Path, default=root / "corpus")
    parser.add_argument("--bands-above", type=float, default=4000.0)
    parser.add_argument("--quick", action="store_true", help="three mixtures per family")
    parser.add_argument("--only-retrained", action="store_true",
                        help="only standard and the retrained variants")
    parser.add_argument("--preset", action="append", choices=tuple(FAMILIES),
                        help="only these presets (default: all)")
    args = parser.parse_args()
    mixtures = sorted((args.corpus / "mixtures").iterdir())
    print(f"{'preset':<20} {'variant':<32} {'mixtures':>8} {'SDR dB':>7} {'vs standard':>11}")
    for name in args.preset or FAMILIES:
        prefix, overrides = FAMILIES[name]
        preset = load_preset(name)
        folders = [folder for folder in mixtures if folder.name.startswith(prefix)]
        if args.quick:
            folders = folders[:3]
        shipped = ("standard",) if args.only_retrained else ("standard", "low", "ultra")
        variants: list[tuple[str, Preset, EngineSettings]] = [
            (latency, preset, EngineSettings(latency=latency)) for latency in shipped]
        for latency in ("low", "ultra") if overrides is not None else ():
            started = time.perf_counter()
            trained = retrained(preset, latency, overrides, args.corpus.parent)
            variants.append((f"{latency}, retrained, hop {trained.hop_length}", trained,
                             EngineSettings(latency=latency)))
            print(f"  (retrained {name} for {latency} in {time.perf_counter() - started:.0f} s)",
                  flush=True)
        for latency in () if args.only_retrained else ("standard", "low"):
            variants.append((f"{latency}, bands > {args.bands_above:g} Hz", preset,
                             EngineSettings(latency=latency, bands_above=args.bands_above)))
        standard = None
        for label, model, settings in variants:
            sdr = mean_online_sdr(model, folders, settings)
            standard = sdr if standard is None else standard
            print(f"{name:<20} {label:<32} {len(folders):>8} {sdr:>7.2f} "
                  f"{sdr - standard:>+11.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
