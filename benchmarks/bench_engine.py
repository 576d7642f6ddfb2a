"""The engine's speed targets (issue 4), each beside the same computation in numpy.

16 kHz, n_fft 512, hop 128, blocks of 128 (deadline 8 ms), 60 s of the bundled two-speaker
recording looped, 10 activation updates per frame:
  (a) supervised NMF, 2 sources x 32 components (the shipped male-female-nmf);
  (b) N-FHMM, 2 sources x 20 states x 10 components, beam 128 (the shipped male-female-nhmm);
  (c) exact N-FHMM, 2 sources x 10 states x 10 components (all 100 joint states).
The engine is timed by its own clock (what an audio callback costs) and, for the ratio,
from Python like the numpy reference (livesep.separation.reference_engine), one BLAS thread.

    python benchmarks/bench_engine.py [--seconds S]
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console

from livesep import audio, presets, spectral
from livesep.bundled import demo_material_dir
from livesep.engine import EngineSettings
from livesep.evaluation.bench import (
    ENGINE,
    ENGINE_OWN_CLOCK,
    NUMPY,
    bench_table,
    run_bench,
)
from livesep.models.nhmm import train_nhmm
from livesep.presets import Preset, SourceModel
from livesep.presets.shipped import resolve_preset

TARGETS = {"a": (0.01, 20.0), "b": (0.1, 5.0), "c": (None, None)}


def exact_preset() -> Preset:
    """2 x 10 states x 10 components, trained on the demo's references (speed only)."""
    sources = []
    for name in ("male", "female"):
        y, _ = audio.load(demo_material_dir() / f"{name}.flac")
        model = train_nhmm(spectral.magnitude(y), n_states=10, n_components=10, n_iter=5, seed=0)
        sources.append(SourceModel(name, W=model.W, A=model.A, pi=model.pi))
    return Preset("exact-10x10", sr=16000, n_fft=512, hop_length=128, model="nhmm",
                  sources=sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    mix, _ = audio.load(demo_material_dir() / "mix.flac")
    signal = np.tile(mix, int(np.ceil(args.seconds * 16000 / mix.size)))[:int(args.seconds * 16000)]
    cases = {
        "a": (presets.load(resolve_preset("male-female-nmf")), EngineSettings(n_iter=10)),
        "b": (presets.load(resolve_preset("male-female-nhmm")),
              EngineSettings(n_iter=10, beam=128)),
        "c": (exact_preset(), EngineSettings(n_iter=10, beam=0)),
    }
    console = Console()
    summary = []
    for key, (preset, settings) in cases.items():
        result = run_bench(preset, settings=settings, block_size=128, signal=signal,
                           signal_name="the bundled two-speaker recording, looped")
        console.print(f"\n[bold]({key})[/bold]")
        console.print(bench_table(result))
        times = {t.name: t for t in result.times}
        own, engine, numpy = times[ENGINE_OWN_CLOCK], times[ENGINE], times[NUMPY]
        ratio = numpy.seconds.sum() / engine.seconds.sum()
        rtf_target, ratio_target = TARGETS[key]
        checks = [f"p99 {100 * own.p99 / own.deadline:.1f}% of the deadline "
                  f"({'meets' if own.p99 <= 0.25 * own.deadline else 'MISSES'} <= 25%)"]
        if rtf_target is not None:
            checks.append(f"RTF {own.real_time_factor:.4f} "
                          f"({'meets' if own.real_time_factor <= rtf_target else 'MISSES'} "
                          f"<= {rtf_target})")
            verdict = "meets" if ratio >= ratio_target else "MISSES"
            checks.append(f"numpy/C++ {ratio:.1f}x ({verdict} >= {ratio_target:g}x)")
        else:
            checks.append(f"RTF {own.real_time_factor:.4f}, numpy/C++ {ratio:.1f}x")
        summary.append(f"({key}) " + "; ".join(checks))
    console.print("\n[bold]targets[/bold]")
    for line in summary:
        console.print(line)


if __name__ == "__main__":
    main()
