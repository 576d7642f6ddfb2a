#!/usr/bin/env python3
"""Train the default voice preset's companion: a recurrent network (model ``"nae"``) trained on
mixtures that gives each bin a speech and a noise activation, sources ``speech`` and
``noise``. Alone it separates worse than the unfolded ``voice`` preset; its errors are not
``voice``'s, and ``voice`` runs it beside itself (a companion, 45 % of the masks):
docs/voice.md has the measurements.

Data (from the corpus of scripts/build_corpus.py): the training clips of the readers en, da,
en_GB, nl, pt_BR, he, tn and ml (never lt, uk or es: the voices every voice benchmark tests
on) and the training recordings of the corpus noises, made into 4-second mixtures with
livesep.models.unfolded.mixture_frames (speed-perturbed speech; recorded and generic noise,
40 % of the generic ones steady; random SNRs and levels), each played at a further random
gain in every step.

Model (livesep.presets.encoder has the equations): noise-aware features (each bin's a
posteriori SNR against the noise floor the engine tracks, and its level over the floor's
mean), a tanh layer, GRU layers, then per source one softplus activation per bin through an
identity dictionary, so that the speech mask of bin f is a_f^2 / (a_f^2 + b_f^2), as the
engine makes masks. Trained
with Adam on the masked mixture against each source, on magnitudes to the power 0.5 (speech
weighted twice).

Needs PyTorch (``pip install -e '.[train]'``); deterministic for a seed on one thread.

    python scripts/train_recurrent_voice.py --corpus corpus --out voice-recurrent.npz
        [--seconds 14400] [--hidden 128] [--layers 2] [--epochs 20] [--seed 0]
        [--beside presets/voice.npz --share 0.45]

With ``--beside``, ``--out`` is that preset with the network as its companion (the shipped
``voice`` is made so from the unfolded preset of scripts/train_voice_preset.py). With
``--network PRESET`` the network is not trained but taken from that preset's companion: the
shipped ``voice-48k`` has ``voice``'s, which reads the bins up to 8 kHz of its frames.

    python scripts/train_recurrent_voice.py --network presets/voice.npz \
        --beside presets/voice-48k.npz --out presets/voice-48k.npz
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from livesep import audio, presets, spectral
from livesep.models.nae import encoder_features, recurrent_estimates
from livesep.models.unfolded import mixture_frames
from livesep.presets import Encoder, Preset, SourceModel
from livesep.threads import blas_threads

READERS = ("en", "da", "en_GB", "nl", "pt_BR", "he", "tn", "ml")
NOISES = ("breath", "seashore", "helicopter", "applause", "cymbals")
SR, N_FFT, HOP = 16000, 512, 128
SEGMENT = 4.0
BATCH, GAIN_DB, COMPRESS, SPEECH_WEIGHT = 32, (-25.0, 15.0), 0.5, 2.0
STEADY_SHARE = 0.4


def build_network(torch, n_bins: int, hidden: int, layers: int):
    nn = torch.nn

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input = nn.Linear(2 * n_bins, hidden)
            self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True)
            self.outputs = nn.ModuleList([nn.Linear(hidden, n_bins) for _ in range(2)])

        def forward(self, features):
            g, _ = self.gru(torch.tanh(self.input(features)))
            powered = torch.stack([nn.functional.softplus(out(g)) ** 2 for out in self.outputs])
            return powered / (powered.sum(0) + 1e-12)

    return Network()


def export(torch, network, provenance: dict) -> Preset:
    """The trained network as a model "nae" preset: identity dictionaries, unit scales."""
    def array(t) -> np.ndarray:
        return t.detach().double().numpy()

    gru = network.gru
    n_bins = network.input.weight.shape[1] // 2
    encoder = Encoder(
        array(network.input.weight), array(network.input.bias),
        [array(getattr(gru, f"weight_ih_l{i}")) for i in range(gru.num_layers)],
        [array(getattr(gru, f"weight_hh_l{i}")) for i in range(gru.num_layers)],
        [array(getattr(gru, f"bias_ih_l{i}")) for i in range(gru.num_layers)],
        [array(getattr(gru, f"bias_hh_l{i}")) for i in range(gru.num_layers)],
        [array(out.weight) for out in network.outputs],
        [array(out.bias) for out in network.outputs],
        [np.ones(n_bins) for _ in network.outputs], noise_aware=True)
    sources = [SourceModel(name, W=np.eye(n_bins)[np.newaxis], A=np.ones((1, 1)),
                           pi=np.ones(1), provenance=provenance) for name in ("speech", "noise")]
    return Preset("voice-recurrent", description="A voice, any speaker, in any noise: a recurrent "
                  "network giving each bin a speech and a noise activation, trained on "
                  "mixtures of eight readers with recorded and generic noise.", sr=SR,
                  n_fft=N_FFT, hop_length=HOP, model="nae", sources=sources, encoder=encoder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, default=Path("voice-recurrent.npz"))
    parser.add_argument("--seconds", type=float, default=14400.0)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beside", type=Path, metavar="PRESET",
                        help="write PRESET with the network as its companion instead")
    parser.add_argument("--share", type=float, default=0.45,
                        help="the companion's share of the masks (default 0.45)")
    parser.add_argument("--network", type=Path, metavar="PRESET",
                        help="take the network from PRESET's companion instead of training "
                             "it (with --beside)")
    args = parser.parse_args()
    if args.network is not None:
        preset = presets.load(args.network).companion
        if preset is None or preset.encoder is None or args.beside is None:
            print(f"error: --network needs --beside and a preset whose companion is a "
                  f"network; {args.network} has {preset!r}", file=sys.stderr)
            return 1
    else:
        preset = train(args)
        if preset is None:
            return 1
    if args.beside is not None:
        main_preset = presets.load(args.beside)
        description = (f"{main_preset.description.rstrip('.')}; beside it a noise-aware "
                       f"recurrent network trained on the same kind of mixtures gives "
                       f"{100 * args.share:g} % of the masks"
                       f"{'' if preset.sr == main_preset.sr else f' up to {preset.sr // 2} Hz'}.")
        preset = dataclasses.replace(main_preset, description=description, companion=preset,
                                     companion_share=args.share)
    presets.save(preset, args.out)
    print(presets.describe(args.out))
    return 0


def train(args: argparse.Namespace) -> Preset | None:
    """The network trained as the module says, exported as a preset (None on failure)."""
    try:
        import torch
    except ImportError:
        print("error: training a recurrent preset needs PyTorch: pip install -e '.[train]'",
              file=sys.stderr)
        return None
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    started = time.perf_counter()
    speech = [audio.load(args.corpus / "speech" / r / "train.wav", sr=SR)[0] for r in READERS]
    noises = [audio.load(args.corpus / "noise" / n / "train.wav", sr=SR)[0] for n in NOISES]
    with blas_threads(1):
        frames = mixture_frames(speech, noises, sr=SR, n_fft=N_FFT, hop_length=HOP,
                                seconds=args.seconds, segment=SEGMENT,
                                steady_share=STEADY_SHARE, seed=args.seed)
    length = spectral.n_frames(int(SEGMENT * SR), n_fft=N_FFT, hop_length=HOP)
    count = len(frames.mixture) // length

    def sequences(x: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x[:count * length]).reshape(
            count, length, -1))

    mixture = sequences(frames.mixture)
    speech_frames, noise_frames = sequences(frames.speech), sequences(frames.noise)
    # Each 4-second piece is a stream of its own: its noise floor starts with it. Filled
    # piece by piece, so that the frames are held once in float64 and once in float32.
    features = torch.empty(count, length, 2 * (N_FFT // 2 + 1))
    for piece, out in zip(mixture.numpy(), features.numpy()):
        out[:] = encoder_features(piece, spectral.noise_floor(piece, sr=SR, hop_length=HOP) ** 2)
    print(f"{count} mixtures of {length} frames ({time.perf_counter() - started:.0f} s)",
          flush=True)
    network = build_network(torch, N_FFT // 2 + 1, args.hidden, args.layers)
    optimizer = torch.optim.Adam(network.parameters(), lr=args.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)
    generator = torch.Generator().manual_seed(args.seed)
    weights = torch.tensor([SPEECH_WEIGHT, 1.0]).view(2, 1, 1, 1)
    for epoch in range(args.epochs):
        order = torch.randperm(count, generator=generator)
        total = 0.0
        for first in range(0, count - BATCH + 1, BATCH):
            chosen = order[first:first + BATCH]
            gain = 10.0 ** (torch.empty(BATCH, 1, 1).uniform_(*GAIN_DB, generator=generator)
                            / 20.0)
            x = mixture[chosen] * gain
            target = torch.stack([speech_frames[chosen], noise_frames[chosen]]) * gain
            error = (network(features[chosen]) * x + 1e-8) ** COMPRESS \
                - (target + 1e-8) ** COMPRESS
            loss = (weights * error ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 5.0)
            optimizer.step()
            total += loss.item()
        schedule.step()
        print(f"  epoch {epoch + 1}/{args.epochs}: cost {total / (count // BATCH):.5f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    provenance = {"readers": list(READERS), "noises": list(NOISES), "seconds": args.seconds,
                  "hidden": args.hidden, "layers": args.layers, "epochs": args.epochs,
                  "seed": args.seed, "trainer": "scripts/train_recurrent_voice.py (PyTorch)",
                  "training_seconds": round(time.perf_counter() - started)}
    preset = export(torch, network, provenance)
    # The exported preset must give the network's masks (the engine runs the same maths).
    with torch.no_grad():
        want = network(features[:1, :200])[:, 0].numpy()
    estimates = recurrent_estimates(preset, mixture[0, :200].numpy()) ** 2
    got = estimates / (estimates.sum(axis=1, keepdims=True) + 1e-12)
    worst = float(np.abs(got.transpose(1, 0, 2) - want).max())
    if worst > 1e-3:
        print(f"error: the exported preset's masks differ from the network's by {worst}",
              file=sys.stderr)
        return None
    return preset


if __name__ == "__main__":
    sys.exit(main())
