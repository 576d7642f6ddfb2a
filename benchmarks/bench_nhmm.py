"""Seconds per EM iteration of N-HMM training on a minute of real speech.

Usage::

    .venv/bin/python benchmarks/bench_nhmm.py [--seconds 60] [--states 40] [--components 10]
                                              [--iterations 15] [--dtype float32]
                                              [--blas-threads N]

The speech is the allowed readers' training audio, ``corpus/speech/<reader>/train.wav`` when
the corpus has been built, otherwise the Debian klettres clips of the same readers, taken
in turns (one clip per reader) until there is enough, resampled to 16 kHz. STFT 512 / 128 as
the engine frames it (about 7500 frames a minute). Prints a table: initialisation (k-means,
per-group NMF, first E-step) and every EM iteration (M-step + the next E-step).

``--blas-threads 1`` pins OpenBLAS to one thread. On a busy two-core machine that is the
steadier choice: OpenBLAS's worker threads spin while they wait for each other, so when
another process holds a core an iteration can take many times longer.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path


def _blas_threads_from_argv() -> None:
    # The thread count must be in the environment before numpy (OpenBLAS) is imported.
    if "--blas-threads" in sys.argv[:-1]:
        count = sys.argv[sys.argv.index("--blas-threads") + 1]
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = count


_blas_threads_from_argv()

import numpy as np  # noqa: E402

from livesep.audio import load  # noqa: E402
from livesep.models.nhmm import train_nhmm  # noqa: E402
from livesep.spectral import magnitude  # noqa: E402

READERS = ("en", "da", "lt", "en_GB", "nl", "uk")
SR = 16000
ROOT = Path(__file__).resolve().parent.parent
KLETTRES = Path("/usr/share/klettres")


def speech(seconds: float) -> tuple[np.ndarray, str]:
    """``seconds`` of allowed speech at 16 kHz and a note of where it came from."""
    needed = int(seconds * SR)
    corpus = [ROOT / "corpus" / "speech" / reader / "train.wav" for reader in READERS]
    if all(path.exists() for path in corpus):
        parts = [load(path, sr=SR)[0] for path in corpus]
        # Equal shares per reader, so the minute is not one voice.
        share = -(-needed // len(parts))
        audio = np.concatenate([part[:share] for part in parts])
        source = "corpus/speech/*/train.wav"
    else:
        clips = {reader: sorted((KLETTRES / reader).glob("*/*.ogg")) for reader in READERS}
        parts, total, index = [], 0, 0
        while total < needed:
            taken = False
            for reader in READERS:
                if index < len(clips[reader]):
                    part = load(clips[reader][index], sr=SR)[0]
                    parts.append(part)
                    total += part.size
                    taken = True
            if not taken:
                break
            index += 1
        audio = np.concatenate(parts)
        source = f"klettres clips of {', '.join(READERS)}"
    if audio.size < needed:
        sys.exit(f"only {audio.size / SR:.1f} s of speech found, {seconds} s needed")
    return audio[:needed], source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--states", type=int, default=40)
    parser.add_argument("--components", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="OpenBLAS threads (default: OpenBLAS's own choice)")
    args = parser.parse_args()

    audio, source = speech(args.seconds)
    V = magnitude(audio, n_fft=512, hop_length=128)
    # Shared machines make timings noisy: say how busy this one was.
    load_before = os.getloadavg()[0]
    stamps: list[float] = []
    start = time.perf_counter()
    model = train_nhmm(V, n_states=args.states, n_components=args.components,
                       n_iter=args.iterations, tol=0.0, seed=0, dtype=args.dtype,
                       callback=lambda i, ll: stamps.append(time.perf_counter()))
    total = time.perf_counter() - start
    iterations = np.diff(stamps)

    print(f"N-HMM training benchmark: Q={args.states}, K={args.components}, "
          f"{args.seconds:g} s of 16 kHz speech ({source})")
    threads = args.blas_threads if args.blas_threads is not None else "default"
    print(f"F x T = {V.shape[0]} x {V.shape[1]}, {args.dtype}, {os.cpu_count()} CPUs, "
          f"BLAS threads {threads}, "
          f"numpy {np.__version__}, Python {platform.python_version()}, "
          f"1-min load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after")
    print()
    print(f"{'stage':<34}{'seconds':>10}")
    print("-" * 44)
    print(f"{'init + first E-step':<34}{stamps[0] - start:>10.3f}")
    for i, seconds in enumerate(iterations, start=1):
        print(f"{f'EM iteration {i}':<34}{seconds:>10.3f}")
    print("-" * 44)
    print(f"{'per EM iteration: mean':<34}{iterations.mean():>10.3f}")
    print(f"{'per EM iteration: min / max':<34}"
          f"{f'{iterations.min():.3f} / {iterations.max():.3f}':>10}")
    print(f"{'total (' + str(model.n_iter) + ' iterations)':<34}{total:>10.3f}")
    print()
    gains = np.diff(model.log_likelihoods)
    print(f"log-likelihood {model.log_likelihoods[0]:.7g} -> {model.log_likelihoods[-1]:.7g}, "
          f"smallest step {gains.min():+.3g}")


if __name__ == "__main__":
    main()
