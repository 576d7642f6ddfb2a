#!/usr/bin/env python3
"""NMF against non-negative autoencoders on male-female speech mixtures (Smaragdis &
Venkataramani 2016, section 4, figure 2), on the corpus of scripts/build_corpus.py.

For every allowed reader in a ``male-female-<m>-<f>`` test mixture, one model per method and
rank is trained on the reader's ``train.wav`` (the first ``--train-seconds``; the test
mixtures are built from the disjoint ``test.wav``):

- ``nmf``: KL-NMF of rank K (``livesep.models.nmf``), activations fitted on the mixture with
  both dictionaries fixed;
- ``nae``: a shallow NAE, ``K`` units (``livesep.models.nae``, depth 1);
- ``nae2``: the paper's deeper NAE (L = 2: two-layer encoder and decoder, ``K`` units in
  every layer).

Each mixture is separated with the two readers' models by soft masks of power 1 (the paper's
eq. 10) on the mixture STFT (512 points, sqrt-Hann, hop 128 = 25 %), and scored with BSS Eval
(``livesep.evaluation.metrics.bss_eval``). The table gives, per rank and method, the median SDR, SIR and
SAR over every source of every mixture, beside the mixture itself (floor) and the ideal
ratio mask of power 1 (ceiling). A separator that swaps its outputs is counted in ``swaps``
(its figures are those of the best assignment).

Deterministic (fixed seeds, fixed data; the result does not depend on ``--jobs``). With the
defaults it runs in about 3 to 4 minutes on a 2-core machine.

    .venv/bin/python scripts/nae_experiment.py [--corpus corpus] [--jobs 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from livesep import spectral
from livesep.audio import load
from livesep.evaluation.metrics import bss_eval, ideal_ratio_mask
from livesep.models.nae import NaeModel, fit_latent, train_nae
from livesep.models.nmf import fit_activations, nmf
from livesep.spectral import soft_masks
from livesep.threads import blas_threads

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("nmf", "nae", "nae2")
N_FFT, HOP, SR = 512, 128, 16000
PREFIX = "male-female-"
#: Pairs of the mixed-voice readers, for ``--set dev``.
DEV_PAIRS = [("es", "pt_BR"), ("he", "tn"), ("ml", "es"), ("pt_BR", "he"), ("tn", "ml")]


def _read(path: Path) -> np.ndarray:
    y, _ = load(path, sr=SR)
    return np.asarray(y, dtype=np.float64)


def _magnitude(y: np.ndarray) -> np.ndarray:
    return np.abs(spectral.stft(y, n_fft=N_FFT, hop_length=HOP)).astype(np.float64)


def _train(job: tuple[str, str, int, dict[str, Any]]
           ) -> tuple[tuple[str, str, int], Any, float | None]:
    """Train one reader's model: ``(key, model, final training cost of an NAE)``."""
    path, method, rank, settings = job
    y = _read(Path(path))[: int(settings["train_seconds"] * SR)]
    V = _magnitude(y)
    with blas_threads(1):
        if method == "nmf":
            W = nmf(V, n_components=rank, n_iter=settings["nmf_iter"], tol=0.0).W
            return (path, method, rank), W, None
        model = train_nae(V, n_components=rank, depth=1 if method == "nae" else 2,
                          n_iter=settings["train_iter"], l1=settings[f"{method}_l1"][0],
                          optimizer=settings["optimizer"], seed=0)
    return (path, method, rank), model, model.costs[-1]


def _estimates(method: str, models: list[Any], A: np.ndarray, settings: dict[str, Any]
               ) -> np.ndarray:
    """Per-source magnitude estimates (2, F, T) for the mixture magnitudes ``A``."""
    if method == "nmf":
        W = np.hstack(models)
        H = fit_activations(A, W, n_iter=settings["nmf_fit_iter"], tol=0.0).H
        split = models[0].shape[1]
        return np.stack([models[0] @ H[:split], models[1] @ H[split:]])
    assert all(isinstance(m, NaeModel) for m in models)
    return fit_latent(A, models, n_iter=settings["fit_iter"],
                      l1=settings[f"{method}_l1"][1], optimizer=settings["optimizer"],
                      learning_rate=settings["fit_rate"]).sources


def _separate(job: tuple[str, str, int, list[Any], np.ndarray, np.ndarray, dict[str, Any]]
              ) -> tuple[tuple[str, str, int], dict[str, Any]]:
    """Separate one mixture with one method: ``(key, scores)``."""
    name, method, rank, models, mix, refs, settings = job
    start = time.process_time()
    X = spectral.stft(mix, n_fft=N_FFT, hop_length=HOP)
    with blas_threads(1):
        if method == "mixture":
            estimates = np.stack([mix, mix])
        elif method == "irm":
            estimates = ideal_ratio_mask(refs, n_fft=N_FFT, hop_length=HOP, power=1.0,
                                         mixture=mix)
        else:
            masks = soft_masks(_estimates(method, models, np.abs(X).astype(np.float64),
                                          settings), power=1.0)
            estimates = np.stack([spectral.istft(X * m, n_fft=N_FFT, hop_length=HOP,
                                                 length=mix.size) for m in masks])
        score = bss_eval(refs, estimates)
    return (name, method, rank), {
        "sdr": score.sdr.tolist(), "sir": score.sir.tolist(), "sar": score.sar.tolist(),
        "swapped": score.swapped, "cpu_seconds": time.process_time() - start}


def _corpus_mixtures(corpus: Path, count: int
                     ) -> list[tuple[str, list[str], np.ndarray, np.ndarray]]:
    """The corpus's male-female mixtures: ``(name, [male, female], mix, refs (2, n))``."""
    folders = sorted(p for p in (corpus / "mixtures").glob(f"{PREFIX}*") if p.is_dir())
    folders = folders[:count] if count else folders
    return [(f.name, f.name[len(PREFIX):].split("-", 1), _read(f / "mix.wav"),
             np.stack([_read(f / f"{s}.wav") for s in ("male", "female")])) for f in folders]


def _dev_mixtures(corpus: Path, count: int
                  ) -> list[tuple[str, list[str], np.ndarray, np.ndarray]]:
    """Development mixtures for choosing settings: pairs of the mixed-voice readers (none
    of them in the male-female test set), their test.wav at 0 dB, at most 15 s."""
    pairs = DEV_PAIRS[:count] if count else DEV_PAIRS
    mixtures = []
    for a, b in pairs:
        x, z = (_read(corpus / "speech" / r / "test.wav") for r in (a, b))
        n = min(x.size, z.size, int(15 * SR))
        x, z = x[:n], z[:n] * np.sqrt(np.mean(x[:n] ** 2) / np.mean(z[:n] ** 2))
        mixtures.append((f"dev-{a}-{b}", [a, b], x + z, np.stack([x, z])))
    return mixtures


def _run(function: Callable[[Any], Any], jobs: list[Any], workers: int) -> list[Any]:
    if workers == 1:
        return [function(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, jobs))


def _table(results: dict[tuple[str, str, int], dict[str, Any]], ranks: list[int],
           methods: list[str], n_pairs: int, kind: str) -> str:
    lines = [f"median over {2 * n_pairs} sources ({n_pairs} {kind} mixtures, 0 dB), dB",
             f"{'rank':>4}  {'method':<8} {'SDR':>6} {'SIR':>6} {'SAR':>6}  swaps"]
    for rank in [0] + ranks:
        for method in ("mixture", "irm") if rank == 0 else methods:
            rows = [r for (_, m, k), r in results.items() if m == method and k == rank]
            med = {f: float(np.median(np.concatenate([r[f] for r in rows])))
                   for f in ("sdr", "sir", "sar")}
            swaps = sum(r["swapped"] for r in rows)
            label = "-" if rank == 0 else str(rank)
            lines.append(f"{label:>4}  {method:<8} {med['sdr']:6.2f} {med['sir']:6.2f} "
                         f"{med['sar']:6.2f}  {swaps}/{len(rows)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--ranks", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--set", choices=("male-female", "dev"), default="male-female",
                        help="the corpus's male-female test mixtures, or development "
                             "mixtures of the mixed-voice readers (for choosing settings)")
    parser.add_argument("--pairs", type=int, default=0,
                        help="use only the first N mixtures (0: all)")
    parser.add_argument("--train-seconds", type=float, default=20.0)
    parser.add_argument("--train-iter", type=int, default=500, help="NAE training steps")
    parser.add_argument("--fit-iter", type=int, default=300, help="NAE code-fitting steps")
    parser.add_argument("--nae-l1", type=float, nargs=2, default=[1.0, 1.0],
                        metavar=("TRAIN", "FIT"), help="l1 on the code of the shallow NAE, "
                        "in training and in fitting the mixture")
    parser.add_argument("--nae2-l1", type=float, nargs=2, default=[0.1, 0.1],
                        metavar=("TRAIN", "FIT"), help="the same for the two-layer NAE")
    parser.add_argument("--optimizer", choices=("rprop", "adam"), default="rprop",
                        help="the NAEs' optimiser, in training and in fitting")
    parser.add_argument("--fit-rate", type=float, default=0.01,
                        help="the optimiser's (initial) step in fitting the codes")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--nmf-iter", type=int, default=300)
    parser.add_argument("--nmf-fit-iter", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args(argv)
    settings = {k: getattr(args, k) for k in ("train_seconds", "train_iter", "fit_iter",
                                              "nae_l1", "nae2_l1", "nmf_iter",
                                              "nmf_fit_iter", "optimizer", "fit_rate")}

    load = _dev_mixtures if args.set == "dev" else _corpus_mixtures
    mixtures = load(args.corpus, args.pairs)
    paths = sorted({str(args.corpus / "speech" / r / "train.wav")
                    for _, pair, _, _ in mixtures for r in pair})
    started = time.perf_counter()

    # Largest jobs first, so that the workers finish together.
    order = {"nae2": 0, "nae": 1, "nmf": 2}
    train_jobs = sorted(((p, m, k, settings) for p in paths for m in args.methods
                         for k in args.ranks), key=lambda j: (-j[2], order[j[1]], j[0]))
    outcomes = _run(_train, train_jobs, args.jobs)
    trained = {key: model for key, model, _ in outcomes}
    train_costs = {f"{m} {k}": float(np.mean([c for (_, mm, kk), _, c in outcomes
                                              if mm == m and kk == k]))
                   for m in args.methods if m != "nmf" for k in args.ranks}
    train_wall = time.perf_counter() - started
    print(f"trained {len(trained)} models in {train_wall:.0f} s", file=sys.stderr)

    def models_for(pair: list[str], method: str, rank: int) -> list[Any]:
        return [trained[(str(args.corpus / "speech" / r / "train.wav"), method, rank)]
                for r in pair]

    sep_jobs = [(name, m, 0, [], mix, refs, settings) for m in ("mixture", "irm")
                for name, _, mix, refs in mixtures]
    sep_jobs += [(name, m, k, models_for(pair, m, k), mix, refs, settings)
                 for k in args.ranks for m in args.methods
                 for name, pair, mix, refs in mixtures]
    results = dict(_run(_separate, sep_jobs, args.jobs))
    total = time.perf_counter() - started

    print(_table(results, args.ranks, args.methods, len(mixtures), args.set))
    print("mean final training cost (KL + l1 sum H on data scaled to mean 1): "
          + ", ".join(f"{key} {cost:.4f}" for key, cost in train_costs.items()))
    print(f"\n{len(paths)} readers, {len(mixtures)} mixtures; training {train_wall:.0f} s, "
          f"total {total:.0f} s wall with {args.jobs} job(s)")
    if args.json:
        args.json.write_text(json.dumps({
            "settings": settings | {"ranks": args.ranks, "jobs": args.jobs},
            "training_costs": train_costs,
            "results": [{"mixture": name, "method": m, "rank": k} | r
                        for (name, m, k), r in results.items()],
            "wall_seconds": total}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
