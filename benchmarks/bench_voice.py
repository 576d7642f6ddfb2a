"""Voice isolation on voices and noises no preset was trained on: livesep against RNNoise.

Methods, every one scored on the speech output with the figures of ``livesep eval``
(speech SDR under BSS Eval's best permutation — a permutation other than the identity is
reported as SWAPPED —, SI-SDR, STOI and wideband PESQ), with its real-time factor measured
in this run (processing time / audio time, after one untimed warm-up call):

- ``input``: the noisy mixture itself (the floor).
- ``irm``: the ideal ratio mask from the true sources (the ceiling; STFT 512 / 128, the
  engine's mask power).
- ``rnnoise``: RNNoise (PyPI ``pyrnnoise``, the ``bench`` extra): the mixture resampled to
  48 kHz (livesep.resampling.resample), scaled to the int16 range, run frame by frame (480
  samples) through ``rnnoise_process_frame``, its delay removed, resampled back. The delay is
  measured here at the start by cross-correlating RNNoise's output with its input on clean
  speech (960 samples at 48 kHz with pyrnnoise 0.4.5, as DATA.md says), and that measured
  delay is what is compensated. Its RTF counts the frame loop only, not the resampling.
- each ``--preset NAME_OR_PATH`` (default: the shipped ``speech-noise-nhmm``): the C++
  engine online, block by block as live (livesep.separation.online.separate_online, blocks
  of 128 samples, default engine settings); the speech output is the source named
  ``speech`` (or the first). RTF: the whole engine call over the audio time. A further
  method (an enrolled preset, another separator) is a ``livesep.evaluation.voice.Method``:
  a name and a callable from the mixture to the speech estimate.
- ``enrolled`` (with ``--enrolled``): "learn my voice / my room" as a user does it, one
  personal preset per reader x noise (livesep.models.train.enrol, as ``livesep enrol``): the
  reader's first ``--enrol-voice`` seconds (default 30) of ``train.wav`` (other sentences
  than the test clip) and ``--enrol-room`` seconds (default 10) of the noise alone — another
  realisation of a generated noise (seed + 1), the start of ``train.wav`` of a corpus noise;
  run online like the presets. The enrolment's training time is printed.

Material (16 kHz, deterministic from ``--seed``): the test speech (``test.wav``, never used to
train any shipped preset) of the corpus readers lt, uk and es, each's first ``--seconds``
(default 8 s), over each noise at 0 and 5 dB SNR (speech over noise, power over the whole
signals), every reader x noise x SNR; references kept. The noises (``--noises``) are
names of

- noises generated here from the seed, used by no preset (exactly as
  livesep.evaluation.voice describes them): ``babble`` (4–6 simultaneous talkers from the
  test clips of the corpus readers en, da, en_GB, nl, pt_BR, he, tn and ml, never a test
  reader), ``pink`` and ``brown`` (1/f and 1/f² noise with a slow level walk within
  ±8 dB), ``fan`` (a 90–140 Hz hum with 12 harmonics plus low-passed hiss of equal power),
  ``rain`` (drops: decaying noise bursts band-passed around 0.8–6.4 kHz, 150–300 per s,
  over a high-passed hiss) and ``keyboard`` (typing: press and release clicks of noise,
  damped 1.5–5 kHz sines and a low thump, in words of 2–8 keystrokes);
- corpus noises (``corpus/noise/<name>/test.wav``). By default only those that no preset
  of this run nor any shipped preset was trained on (by the presets' recorded training
  files; today every corpus noise trains the shipped speech-noise presets, so none); one
  named explicitly is used anyway and marked as heard.

Default: all generated noises and the unheard corpus noises: 3 readers x 6 noises x 2 SNRs =
36 mixtures. ``--quick``: readers lt and uk, the first three noises, 0 dB (6 mixtures).

``--room``: the speech heard in a synthetic room (livesep.evaluation.rooms: RT60 0.2–0.7 s,
direct sound 0–8 dB above the reverberation, one room per reader x noise from the seed), at
its dry power, so the SNRs stay; the reverberant speech is the reference, the noise is
unchanged. With ``--enrolled``, the 30 s of voice are heard in the same room.

    .venv/bin/python scripts/build_corpus.py --out corpus --quiet     # once, about a minute
    .venv/bin/pip install -e '.[bench]'                               # pyrnnoise
    .venv/bin/python benchmarks/bench_voice.py [--quick] [--preset P ...] [--json F]
        [--save DIR]      # DIR/<mixture>/{mix,speech,noise}.wav: `livesep eval` reads them
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import BarColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as ProgressBar
from rich.table import Table
from scipy import signal as sps

from livesep import audio
from livesep.engine import LATENCIES, EngineSettings
from livesep.errors import LivesepError, ParameterError
from livesep.evaluation.rooms import DRR_RANGE, RT60_RANGE, in_room, pair_room, reverberate
from livesep.evaluation.voice import (
    CEILING,
    FLOOR,
    GENERATED_NOISES,
    Estimate,
    Method,
    VoiceMixture,
    VoiceScore,
    compare,
    make_noise,
    mean_scores,
    preset_method,
    save_mixtures,
    voice_mixtures,
)
from livesep.models.train import enrol
from livesep.presets import Preset
from livesep.presets.shipped import load_preset, shipped_presets
from livesep.resampling import resample

SR = 16000
TEST_READERS = ("lt", "uk", "es")
BABBLE_READERS = ("en", "da", "en_GB", "nl", "pt_BR", "he", "tn", "ml")
DEFAULT_PRESET = "speech-noise-nhmm"
RNNOISE_SR = 48000
RNNOISE_FRAME = 480
INT16_SCALE = 32768.0
#: RNNoise's delay as DATA.md gives it, checked against the measurement at the start.
RNNOISE_DELAY_DATA = 960
#: Generated noises are made this long; mixtures take excerpts of them.
NOISE_SECONDS = 20.0
FIGURES = (("sdr", "SDR"), ("si_sdr", "SI-SDR"), ("stoi", "STOI"), ("pesq", "PESQ"))

Signal = npt.NDArray[np.float32]


def rnnoise_frames(x: Signal) -> tuple[Signal, float]:
    """RNNoise over ``x`` (48 kHz, int16 range), zero-padded to whole frames: the output and
    the seconds the frame loop took."""
    from pyrnnoise import rnnoise

    n = -(-x.size // RNNOISE_FRAME) * RNNOISE_FRAME
    source = np.zeros(n, dtype=np.float32)
    source[:x.size] = x
    out = np.zeros(n, dtype=np.float32)
    pointer = ctypes.POINTER(ctypes.c_float)
    frames = [(ctypes.cast(out.ctypes.data + 4 * start, pointer),
               ctypes.cast(source.ctypes.data + 4 * start, pointer))
              for start in range(0, n, RNNOISE_FRAME)]
    state = rnnoise.create()
    try:
        started = time.perf_counter()
        for frame_out, frame_in in frames:
            rnnoise.lib.rnnoise_process_frame(state, frame_out, frame_in)
        elapsed = time.perf_counter() - started
    finally:
        rnnoise.destroy(state)
    return out, elapsed


def measure_rnnoise_delay(speech: Signal, sr: int) -> tuple[int, float]:
    """RNNoise's delay at 48 kHz in samples, from the peak of the cross-correlation of its
    output with its input on clean speech, and the normalised correlation at that lag.
    Raises ParameterError, saying how to install it, without pyrnnoise."""
    try:
        import pyrnnoise  # noqa: F401
    except ImportError:
        raise ParameterError("pyrnnoise is not installed: `.venv/bin/pip install -e "
                             "'.[bench]'`, or pass --no-rnnoise") from None
    x = resample(speech, orig_sr=sr, target_sr=RNNOISE_SR) * INT16_SCALE
    out, _ = rnnoise_frames(np.concatenate([x, np.zeros(4 * RNNOISE_DELAY_DATA, np.float32)]))
    correlation = sps.correlate(out, x, mode="full", method="fft")
    lag = int(np.argmax(correlation)) - (x.size - 1)
    if lag < 0:
        raise ParameterError(f"RNNoise's output leads its input by {-lag} samples")
    aligned = out[lag:lag + x.size].astype(np.float64)
    r = float(np.dot(aligned, x) / np.sqrt(np.dot(aligned, aligned) * np.dot(x, x)))
    return lag, r


def rnnoise_method(delay: int, sr: int) -> Method:
    """RNNoise at 48 kHz around a signal at ``sr``, its ``delay`` (48 kHz samples) removed;
    only the frame loop is timed."""
    def run(y: Signal) -> Estimate:
        x = resample(y, orig_sr=sr, target_sr=RNNOISE_SR) * INT16_SCALE
        out, seconds = rnnoise_frames(np.concatenate([x, np.zeros(delay, np.float32)]))
        speech = resample(out[delay:delay + x.size] / INT16_SCALE, orig_sr=RNNOISE_SR,
                          target_sr=sr)
        return Estimate(np.ascontiguousarray(speech, dtype=np.float32), seconds)
    return Method("rnnoise", run)


def heard_in_training(presets: Sequence[Preset]) -> dict[str, list[str]]:
    """Every training file of the presets' sources → the presets trained on it."""
    heard: dict[str, list[str]] = {}
    for preset in presets:
        for source in preset.sources:
            files = source.provenance.get("files", [])
            for file in files if isinstance(files, list) else [files]:
                heard.setdefault("/" + str(file).replace("\\", "/"), []).append(preset.name)
    return heard


def heard_by(heard: dict[str, list[str]], kind: str, name: str) -> list[str]:
    """The presets trained on any file under ``<kind>/<name>/``."""
    return sorted({p for file, presets in heard.items() if f"/{kind}/{name}/" in file
                   for p in presets})


def load_speech(corpus: Path, reader: str) -> Signal:
    path = corpus / "speech" / reader / "test.wav"
    if not path.is_file():
        raise ParameterError(f"{path}: missing; build the corpus with `.venv/bin/python "
                             f"scripts/build_corpus.py --out {corpus} --quiet`")
    return audio.load(path, sr=SR)[0]


def build_material(args: argparse.Namespace, presets: Sequence[Preset], console: Console
                   ) -> list[VoiceMixture]:
    """The mixtures the options ask for; prints what was chosen and any noise or reader a
    preset heard in training."""
    corpus = Path(args.corpus)
    heard = heard_in_training([*presets, *(load_preset(p) for p in shipped_presets())])
    corpus_noises = sorted(p.parent.name for p in (corpus / "noise").glob("*/test.wav"))
    if args.noises is None:
        noises = [*GENERATED_NOISES, *(n for n in corpus_noises if not heard_by(heard, "noise",
                                                                                 n))]
    else:
        noises = [n.strip() for n in args.noises.split(",") if n.strip()]
    unknown = [n for n in noises if n not in GENERATED_NOISES and n not in corpus_noises]
    if unknown or not noises:
        raise ParameterError(f"unknown noise {', '.join(unknown) or '(none given)'}; "
                             f"generated: {', '.join(GENERATED_NOISES)}; in {corpus}/noise: "
                             f"{', '.join(corpus_noises) or 'none'}")
    readers, snrs = list(TEST_READERS), [float(s) for s in args.snr]
    if args.quick:
        readers, noises, snrs = readers[:2], noises[:3], snrs[:1]
    for kind, names in (("speech", readers), ("noise", noises)):
        for name in names:
            if by := heard_by(heard, kind, name):
                console.print(f"[bold yellow]warning:[/] {kind} {name!r} was heard in "
                              f"training by {', '.join(by)}")
    talkers = [load_speech(corpus, reader) for reader in BABBLE_READERS] \
        if "babble" in noises else []
    n_noise = round(max(NOISE_SECONDS, args.seconds) * SR)
    signals = {name: make_noise(name, n_noise, sr=SR, seed=args.seed, talkers=talkers)
               if name in GENERATED_NOISES
               else audio.load(corpus / "noise" / name / "test.wav", sr=SR)[0]
               for name in noises}
    speech = {reader: load_speech(corpus, reader) for reader in readers}
    console.print(f"material: readers {', '.join(readers)}; noises {', '.join(noises)}; SNR "
                  f"{', '.join(f'{s:g}' for s in snrs)} dB; {args.seconds:g} s each; seed "
                  f"{args.seed}")
    if args.room:
        console.print(f"in a room: RT60 {RT60_RANGE[0]:g}–{RT60_RANGE[1]:g} s, direct sound "
                      f"{DRR_RANGE[0]:g}–{DRR_RANGE[1]:g} dB above the reverberation")
    mixtures = voice_mixtures(speech, signals, sr=SR, snrs=snrs, seconds=args.seconds,
                              seed=args.seed)
    return in_room(mixtures, seed=args.seed) if args.room else mixtures


def enrolled_scores(args: argparse.Namespace, mixtures: Sequence[VoiceMixture],
                    methods: Sequence[Method], console: Console,
                    progress: Any) -> list[VoiceScore]:
    """compare() per reader x noise with that pair's enrolled preset as a further method."""
    corpus = Path(args.corpus)
    talkers = [load_speech(corpus, reader) for reader in BABBLE_READERS]
    groups: dict[tuple[str, str], list[VoiceMixture]] = {}
    for mixture in mixtures:
        groups.setdefault((mixture.reader, mixture.noise), []).append(mixture)
    scores: list[VoiceScore] = []
    enrol_seconds = []
    for index, ((reader, noise), group) in enumerate(groups.items()):
        voice = audio.load(corpus / "speech" / reader / "train.wav", sr=SR)[0]
        voice = voice[:round(args.enrol_voice * SR)]
        if args.room:
            voice = reverberate(voice, pair_room(args.seed, reader, noise, sr=SR))
        n_room = round(args.enrol_room * SR)
        room = make_noise(noise, n_room, sr=SR, seed=args.seed + 1, talkers=talkers) \
            if noise in GENERATED_NOISES \
            else audio.load(corpus / "noise" / noise / "train.wav", sr=SR)[0][:n_room]
        started = time.perf_counter()
        preset = enrol(voice, room, name=f"{reader}-{noise}", seed=args.seed)
        enrol_seconds.append(time.perf_counter() - started)
        scores += compare(group, [*methods, preset_method(preset, sr=SR, name="enrolled")],
                          progress=lambda f, i=index: progress((i + f) / len(groups)))
    console.print(f"enrolment: {args.enrol_voice:g} s of voice, {args.enrol_room:g} s of room; "
                  f"training {np.mean(enrol_seconds):.1f} s on average "
                  f"(max {np.max(enrol_seconds):.1f} s) for {len(groups)} presets")
    return scores


def cell(metric: str, value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.3f}" if metric in ("stoi", "rtf") else f"{value:.2f}"


def rows_table(scores: Sequence[VoiceScore]) -> Table:
    table = Table(title="Speech output per mixture", title_justify="left")
    for header in ("mixture", "method", *(h for _, h in FIGURES), "RTF", "note"):
        table.add_column(header, no_wrap=header in ("mixture", "method"),
                         justify="left" if header in ("mixture", "method", "note") else "right")
    previous = None
    for score in scores:
        note = "[bold red]SWAPPED[/]" if score.swapped else ""
        if score.pesq_note:
            note += f" PESQ: {score.pesq_note}"
        table.add_row(score.mixture if score.mixture != previous else "", score.method,
                      *(cell(m, getattr(score, m)) for m, _ in FIGURES),
                      cell("rtf", score.rtf), note.strip())
        previous = score.mixture
    return table


def means_table(scores: Sequence[VoiceScore], by: str | None, title: str) -> Table:
    means = mean_scores(scores, by=by)
    table = Table(title=title, title_justify="left")
    if by is not None:
        table.add_column(by.replace("_db", " (dB)"), no_wrap=True)
    for header in ("method", *(h for _, h in FIGURES), "RTF", "swaps", "n"):
        table.add_column(header, no_wrap=header == "method",
                         justify="left" if header == "method" else "right")
    groups = list(dict.fromkeys(group for _, group in means))
    methods = list(dict.fromkeys(method for method, _ in means))
    for group in groups:
        for index, method in enumerate(methods):
            row = means[(method, group)]
            first = [group if index == 0 else ""] if by is not None else []
            table.add_row(*first, method, *(cell(m, row[m]) for m, _ in FIGURES),
                          cell("rtf", row["rtf"]), f"{row['swaps']:.0f}", f"{row['n']:.0f}")
        if by is not None:
            table.add_section()
    return table


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) else value
    return value


def write_json(path: Path, scores: Sequence[VoiceScore], info: dict[str, Any]) -> None:
    means = {by or "all": {f"{m}|{g}" if by else m: row
                           for (m, g), row in mean_scores(scores, by=by).items()}
             for by in (None, "noise", "snr_db", "reader")}
    rows = [{**asdict(score), "rtf": score.rtf} for score in scores]
    path.write_text(json.dumps(json_ready({**info, "means": means, "rows": rows}), indent=1))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", default=str(root / "corpus"), metavar="DIR",
                        help="the built corpus (default: %(default)s)")
    parser.add_argument("--preset", action="append", metavar="NAME_OR_PATH",
                        help=f"a livesep preset to run online (repeatable; default: "
                             f"{DEFAULT_PRESET})")
    parser.add_argument("--noises", metavar="A,B,...",
                        help="generated or corpus noise names (default: all generated ones "
                             "and the corpus noises no preset was trained on)")
    parser.add_argument("--snr", nargs="+", type=float, default=[0.0, 5.0], metavar="DB")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="6 mixtures only")
    parser.add_argument("--no-rnnoise", action="store_true", help="leave RNNoise out")
    parser.add_argument("--save", metavar="DIR", help="write the mixtures as eval folders")
    parser.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    parser.add_argument("--enrolled", action="store_true",
                        help="also enrol each reader and noise (livesep enrol) and run that")
    parser.add_argument("--enrol-voice", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--enrol-room", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--means-only", action="store_true", help="no table per mixture")
    parser.add_argument("--room", action="store_true",
                        help="the speech heard in a synthetic room (reverberant references)")
    parser.add_argument("--latency", choices=tuple(LATENCIES), default="standard",
                        help="the engine's latency mode for the presets (default: standard)")
    parser.add_argument("--bands-above", type=float, default=None, metavar="HZ",
                        help="fit the presets' activations on bands above HZ (default: each "
                             "preset's own, else every bin)")
    return parser.parse_args(argv)


def wide_console() -> Console:
    """A console for the tables; into a file or a pipe, wide enough for every column."""
    console = Console()
    return console if console.is_terminal else Console(width=120)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = wide_console()
    started = time.perf_counter()
    try:
        specs = args.preset or [DEFAULT_PRESET]
        presets = [load_preset(spec) for spec in specs]
        mixtures = build_material(args, presets, console)
        if args.save:
            folders = save_mixtures(mixtures, args.save)
            console.print(f"wrote {len(folders)} mixture folders to {args.save} "
                          f"(`livesep eval --preset P --mixtures {args.save}`)")
        methods: list[Method] = []
        info: dict[str, Any] = {"sr": SR, "seconds": args.seconds, "seed": args.seed,
                                "room": args.room, "mixtures": [m.name for m in mixtures],
                                "presets": specs}
        if not args.no_rnnoise:
            delay, r = measure_rnnoise_delay(mixtures[0].references[0], SR)
            console.print(f"RNNoise delay measured by cross-correlation on clean speech "
                          f"({mixtures[0].reader}, {args.seconds:g} s at 48 kHz): {delay} "
                          f"samples (normalised correlation {r:.4f}; DATA.md: "
                          f"{RNNOISE_DELAY_DATA})")
            if delay != RNNOISE_DELAY_DATA:
                console.print("[bold yellow]warning:[/] the measured delay differs from "
                              "DATA.md's; the measured one is compensated")
            info["rnnoise_delay_48k"], info["rnnoise_delay_correlation"] = delay, r
            methods.append(rnnoise_method(delay, SR))
        names = [Path(spec).stem if spec.endswith(".npz") else spec for spec in specs]
        settings = EngineSettings(latency=args.latency, bands_above=args.bands_above)
        methods += [preset_method(preset, sr=SR, name=name, settings=settings)
                    for preset, name in zip(presets, names)]
        for method in methods:  # untimed warm-up: first-call costs are not the method's
            method.separate(mixtures[0].mixture[:SR])
        with ProgressBar("{task.description}", BarColumn(), TimeElapsedColumn(),
                         TimeRemainingColumn(), console=console, transient=True) as bar:
            task = bar.add_task(f"{len(mixtures)} mixtures x {len(methods) + 2} methods",
                                total=1.0)
            def advance(fraction: float) -> None:
                bar.update(task, completed=fraction)
            scores = enrolled_scores(args, mixtures, methods, console, advance) \
                if args.enrolled else compare(mixtures, methods, progress=advance)
    except LivesepError as error:
        console.print(f"[bold red]error:[/] {error}")
        return 1
    if not args.means_only:
        console.print(rows_table(scores))
    console.print(means_table(scores, "noise", "Means per noise"))
    console.print(means_table(scores, "snr_db", "Means per SNR"))
    console.print(means_table(scores, None, "Means over all mixtures"))
    swaps = [f"{s.mixture} {s.method}" for s in scores if s.swapped]
    if swaps:
        console.print(f"[bold red]swapped outputs (a failure):[/] {', '.join(swaps)}")
    elapsed = time.perf_counter() - started
    console.print(f"{FLOOR} is the noisy input, {CEILING} the ideal ratio mask; RTF = "
                  f"processing time / audio time in this run. Total time {elapsed:.0f} s.")
    if args.json:
        write_json(Path(args.json), scores, {**info, "total_seconds": elapsed})
    return 0


if __name__ == "__main__":
    sys.exit(main())
