"""Full band at 48 kHz: the 16 kHz presets run at 48 kHz against the presets trained at 48 kHz.

A 16 kHz preset separates a 48 kHz signal through the live path's resampling chain (down to
16 kHz, the engine, back up: ``livesep.separation.online.separate_online`` at the file's
rate), so its stems hold nothing above 8 kHz; a 48 kHz preset separates the whole band.
On 48 kHz material no preset was trained on, every method is scored on

- the target source's **SDR at 48 kHz over the whole band** (BSS Eval, fast_bss_eval, the
  target stem's own figure; a best permutation other than the identity is reported as
  SWAPPED, a failure);
- for the voice part, the speech stem's **STOI and PESQ** (wideband; both resample it, to
  10 and 16 kHz, as ``bench_voice.py`` scores its 16 kHz material), so that a method at
  48 kHz compares with the 16 kHz benchmark's figures of intelligibility and quality;
- **ΔHF**: per stem, the energy above 8 kHz of the separated stem relative to that of its
  reference source, in dB (0 is right; the aim is within ±3 dB; clamped to ±100 dB). The
  finger bass has next to nothing there (85 dB below its whole energy), so its ΔHF counts
  the drums' high band leaking into the bass stem; the drums stem's shows the full band;
- its **real-time factor** in this run (processing time / audio time, the whole
  ``separate_online`` call after one untimed warm-up call; blocks of ``--block-size``),

beside ``input`` (the noisy mixture as every stem: the floor) and ``irm`` (the ideal ratio
mask at 48 kHz with the 48 kHz presets' STFT, 1536 / 384, and the engine's mask power: the
ceiling). The voice part also runs ``rnnoise`` (PyPI ``pyrnnoise``, the ``bench`` extra; as
``bench_voice.py`` runs it, but at its own 48 kHz, full band, no resampling): its output is
the speech stem, the mixture less it the noise stem, its delay measured on clean speech and
removed; its real-time factor counts the frame loop only.

Material (48 kHz, deterministic from ``--seed``, from a corpus built at 48 kHz):

- voice (target ``speech``): the test clips of the readers lt, uk and es (no preset trained
  on them), each's first ``--seconds`` (default 8 s), over noises generated at 48 kHz that
  no preset heard (``livesep.evaluation.voice.make_noise``: babble from the test clips of the
  eight training readers, pink, brown, fan, rain, keyboard) at each ``--snr`` (default 0 and
  5 dB; power over the whole signals), brought to -23 dBFS (``voice_mixtures``);
- bass-drums (target ``bass``): the finger bass test piece over each segment of the drums
  test file (one per test kit, kits never heard in training; its start from the corpus
  manifest), cut to the shorter, at 0 dB, brought to -23 dBFS like the voice mixtures.

With ``--enrolled``, the voice part also runs "learn my voice / my room" per reader x noise
(``livesep.live.learning.personal_preset``, as ``livesep enrol``): the reader's first
``--enrol-voice`` seconds (default 30) of ``train.wav`` and ``--enrol-room`` seconds (default
10) of the noise generated anew (another seed: the same room heard at another time), both at
48 kHz, make ``enrolled`` (the personal preset at 16 kHz, through the resamplers) and
``enrolled-48k`` (the same extended over the full band, what both takes at 44.1 kHz or above
make); the time to build each is printed.

Default: 3 readers x 6 noises x 2 SNRs and 2 bass-drums pairs, presets ``voice`` against
``voice-48k`` and ``bass-drums-nhmm`` against ``bass-drums-nhmm-48k`` (80 s on the
2-core development machine). ``--quick``: readers lt and uk, three noises, the first SNR, one
kit.

    python scripts/build_corpus.py --out corpus48 --sr 48000 --quiet   # once, about 20 s
    python benchmarks/bench_fullband.py [--corpus corpus48] [--part voice|bass-drums]
        [--voice-preset P ...] [--bass-preset P ...] [--snr DB ...] [--seconds S]
        [--block-size N] [--enrolled [--enrol-voice S] [--enrol-room S]] [--quick]
        [--no-rnnoise] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

# The benchmarks' folder is the script's own.
from bench_voice import json_ready, measure_rnnoise_delay, rnnoise_method, wide_console
from livesep import audio
from livesep.engine import EngineSettings
from livesep.errors import LivesepError, ParameterError
from livesep.evaluation import metrics
from livesep.evaluation.voice import GENERATED_NOISES, LEVEL_DBFS, make_noise, voice_mixtures
from livesep.live.learning import personal_preset
from livesep.models.train import ENROLMENT_BASE
from livesep.presets import Preset
from livesep.presets.shipped import load_preset
from livesep.separation.online import separate_online
from livesep.threads import blas_threads

SR = 48000
#: The band a 16 kHz preset cannot give back: above its Nyquist frequency.
HIGH_BAND_HZ = 8000.0
#: The aim for a stem's energy above 8 kHz against its reference's, in dB either way.
HIGH_BAND_TARGET_DB = 3.0
#: ΔHF is clamped to this, in dB: an empty band would otherwise give -inf.
HIGH_BAND_CLAMP_DB = 100.0
#: The ideal ratio mask's STFT: the 48 kHz presets' 32 ms frame and 8 ms hop.
IRM_N_FFT, IRM_HOP = 1536, 384
TEST_READERS = ("lt", "uk", "es")
BABBLE_READERS = ("en", "da", "en_GB", "nl", "pt_BR", "he", "tn", "ml")
#: Generated noises are made this long; mixtures take excerpts of them.
NOISE_SECONDS = 20.0
FLOOR, CEILING = "input", "irm"
PARTS = {"voice": ("speech", "noise"), "bass-drums": ("bass", "drums")}
#: What the pairs of a part are grouped by in the means per group.
GROUPS = {"voice": "reader", "bass-drums": "kit"}
DEFAULT_PRESETS = {"voice": ["voice", "voice-48k"],
                   "bass-drums": ["bass-drums-nhmm", "bass-drums-nhmm-48k"]}

Signal = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Pair:
    """Two sources mixed: ``references`` (2, n) are as they are in ``mixture``, in the order
    of ``source_names`` (the target first); ``group`` is its reader or drum kit."""

    name: str
    group: str
    source_names: tuple[str, str]
    mixture: Signal
    references: Signal
    noise: str = ""


@dataclass(frozen=True)
class Row:
    """One method on one pair: the target's SDR, ΔHF per stem (dB), the processing time."""

    part: str
    pair: str
    group: str
    method: str
    sdr: float
    high_band_db: tuple[float, float]
    swapped: bool
    seconds: float
    audio_seconds: float
    stoi: float = math.nan
    pesq: float = math.nan

    @property
    def rtf(self) -> float:
        return self.seconds / self.audio_seconds


def high_band_energy(x: npt.ArrayLike, *, sr: int) -> float:
    """The energy of ``x`` above :data:`HIGH_BAND_HZ` (sum of squared DFT magnitudes)."""
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float64))
    above = np.fft.rfftfreq(np.size(x), 1.0 / sr) > HIGH_BAND_HZ
    return float(np.sum(np.abs(spectrum[above]) ** 2))


def high_band_difference_db(stem: npt.ArrayLike, reference: npt.ArrayLike, *, sr: int
                            ) -> float:
    """ΔHF: the stem's energy above 8 kHz over the reference's, in dB, clamped."""
    with np.errstate(divide="ignore"):
        ratio = 10.0 * np.log10(high_band_energy(stem, sr=sr)
                                / high_band_energy(reference, sr=sr))
    return float(np.clip(ratio, -HIGH_BAND_CLAMP_DB, HIGH_BAND_CLAMP_DB))


def corpus_manifest(corpus: Path) -> dict[str, Any]:
    """The corpus's manifest, once it is known to be built at 48 kHz: one built lower would
    be resampled up here, with nothing above its Nyquist frequency to score."""
    path = corpus / "manifest.json"
    if not path.is_file():
        raise ParameterError(f"{path}: missing; build the corpus with `python "
                             f"scripts/build_corpus.py --out {corpus} --sr {SR} --quiet`")
    manifest = json.loads(path.read_text())
    if manifest["settings"]["sr"] != SR:
        raise ParameterError(f"{corpus} is built at {manifest['settings']['sr']} Hz, not {SR}")
    return manifest


def load_test(corpus: Path, relative: str) -> Signal:
    """A corpus file at 48 kHz."""
    return audio.load(corpus / relative, sr=SR)[0]


def voice_pairs(corpus: Path, readers: Sequence[str], noises: Sequence[str],
                snrs: Sequence[float], seconds: float, seed: int) -> list[Pair]:
    """Every reader x generated noise x SNR at 48 kHz (see the module's description)."""
    talkers = [load_test(corpus, f"speech/{r}/test.wav") for r in BABBLE_READERS] \
        if "babble" in noises else []
    n_noise = round(max(NOISE_SECONDS, seconds) * SR)
    signals = {name: make_noise(name, n_noise, sr=SR, seed=seed, talkers=talkers)
               for name in noises}
    speech = {r: load_test(corpus, f"speech/{r}/test.wav") for r in readers}
    return [Pair(m.name, m.reader, PARTS["voice"], m.mixture, m.references, m.noise)
            for m in voice_mixtures(speech, signals, sr=SR, snrs=snrs, seconds=seconds,
                                    seed=seed)]


def enrolled_rows(corpus: Path, pairs: Sequence[Pair], *, voice_seconds: float,
                  room_seconds: float, seed: int, block_size: int, console: Console
                  ) -> list[Row]:
    """Per reader x noise, the personal presets at 16 and 48 kHz on that group's pairs."""
    base, rows, built = load_preset(ENROLMENT_BASE), [], []
    talkers = [load_test(corpus, f"speech/{r}/test.wav") for r in BABBLE_READERS]
    for reader, noise in dict.fromkeys((pair.group, pair.noise) for pair in pairs):
        voice = load_test(corpus, f"speech/{reader}/train.wav")[:round(voice_seconds * SR)]
        room = make_noise(noise, round(room_seconds * SR), sr=SR, seed=seed + 1,
                          talkers=talkers).astype(np.float32)
        presets = {}
        for method, sr in (("enrolled", None), ("enrolled-48k", SR)):
            with blas_threads(1):
                started = time.perf_counter()
                presets[method] = personal_preset((voice, SR), (room, SR), base, sr=sr,
                                                  name=f"{reader}-{noise}")
                built.append(time.perf_counter() - started)
        for method, preset in presets.items():
            separate = preset_separator(preset, PARTS["voice"], block_size)
            for pair in (p for p in pairs if (p.group, p.noise) == (reader, noise)):
                with blas_threads(1):
                    started = time.perf_counter()
                    stems = separate(pair.mixture)
                rows.append(score("voice", pair, method, stems, time.perf_counter() - started))
        console.print(f"  enrolled: {reader} in {noise}", highlight=False)
    console.print(f"enrolment: {voice_seconds:g} s of voice, {room_seconds:g} s of room; "
                  f"built in {np.mean(built):.1f} s on average (max {np.max(built):.1f} s)",
                  highlight=False)
    return rows


def bass_drums_pairs(corpus: Path, manifest: dict[str, Any], kits: int | None
                     ) -> list[Pair]:
    """The bass test piece over each test kit's segment of the drums test file, at 0 dB."""
    bass = load_test(corpus, "instruments/finger_bass/test.wav").astype(np.float64)
    drums = load_test(corpus, "drums/test.wav").astype(np.float64)
    starts = [round(s["start_s"] * SR) for s in manifest["drums"]["test"]["segments"]]
    pairs = []
    for segment, (start, stop) in enumerate(zip(starts, [*starts[1:], drums.size])):
        n = min(bass.size, stop - start)
        kit = drums[start:start + n]
        pair = np.stack([bass[:n], kit * np.sqrt(np.mean(bass[:n] ** 2) / np.mean(kit ** 2))])
        mix = pair.sum(axis=0)
        gain = min(10.0 ** (LEVEL_DBFS / 20.0) / np.sqrt(np.mean(mix ** 2)),
                   10.0 ** (-1 / 20.0) / np.max(np.abs(mix)))
        references = (pair * gain).astype(np.float32)
        kit_name = manifest["drums"]["test"]["segments"][segment]["kit"]
        pairs.append(Pair(f"bass over {kit_name}", kit_name, PARTS["bass-drums"],
                          references.sum(axis=0), references))
    return pairs[:kits]


def preset_separator(preset: Preset, source_names: Sequence[str], block_size: int
                     ) -> Callable[[Signal], Signal]:
    """The preset run online at 48 kHz, its stems in the order of ``source_names``."""
    missing = [name for name in source_names if name not in preset.source_names]
    if missing:
        raise ParameterError(f"preset {preset.name!r} has no source {missing[0]!r} (it has "
                             f"{', '.join(preset.source_names)})")
    order = [preset.source_names.index(name) for name in source_names]
    return lambda y: separate_online(y, preset, sr=SR, block_size=block_size)[order]


def rnnoise_rows(pairs: Sequence[Pair], console: Console) -> list[Row]:
    """RNNoise on every voice pair at 48 kHz (no resampling), after measuring its delay on the
    first pair's speech: its output the speech stem, the mixture less it the noise stem."""
    delay, r = measure_rnnoise_delay(pairs[0].references[0], SR)
    console.print(f"RNNoise delay measured on clean speech: {delay} samples at 48 kHz "
                  f"(normalised correlation {r:.4f})", highlight=False)
    method = rnnoise_method(delay, SR)
    rows = []
    for pair in pairs:
        speech, seconds = method.separate(pair.mixture)
        rows.append(score("voice", pair, "rnnoise", np.stack([speech, pair.mixture - speech]),
                          seconds))
    return rows


def score(part: str, pair: Pair, method: str, stems: Signal, seconds: float) -> Row:
    if stems.shape != pair.references.shape or not np.all(np.isfinite(stems)):
        raise ParameterError(f"{method} gave stems {stems.shape} for {pair.references.shape} "
                             f"on {pair.name}, or NaN or Inf")
    result = metrics.bss_eval(pair.references, stems)
    # The target stem's own figure: BSS Eval's SDR of an estimate depends on it alone.
    sdr = float(result.sdr[0]) if not result.swapped else float(
        metrics.bss_eval(pair.references, stems[[0, 0]]).sdr[0])
    high_band = (high_band_difference_db(stems[0], pair.references[0], sr=SR),
                 high_band_difference_db(stems[1], pair.references[1], sr=SR))
    speech = {} if part != "voice" else {
        "stoi": metrics.stoi(pair.references[0], stems[0], sr=SR),
        "pesq": metrics.pesq(pair.references[0], stems[0], sr=SR).score}
    return Row(part, pair.name, pair.group, method, sdr, high_band, result.swapped, seconds,
               pair.mixture.size / SR, **speech)


def run_part(part: str, pairs: Sequence[Pair], presets: Sequence[Preset], block_size: int,
             console: Console) -> list[Row]:
    """Every method on every pair: the floor, the ceiling, then each preset, timed."""
    separators = {preset.name: preset_separator(preset, PARTS[part], block_size)
                  for preset in presets}
    for separate in separators.values():  # untimed warm-up: first-call costs are not its own
        separate(pairs[0].mixture[:SR])
    power = EngineSettings().mask_power
    rows = []
    with blas_threads(1):
        for index, pair in enumerate(pairs):
            rows.append(score(part, pair, FLOOR, metrics.mixture_floor(
                pair.mixture, n_sources=2), math.nan))
            irm = metrics.ideal_ratio_mask(pair.references, n_fft=IRM_N_FFT,
                                           hop_length=IRM_HOP, power=power,
                                           mixture=pair.mixture)
            rows.append(score(part, pair, CEILING, irm, math.nan))
            for name, separate in separators.items():
                started = time.perf_counter()
                stems = separate(pair.mixture)
                rows.append(score(part, pair, name, stems, time.perf_counter() - started))
            console.print(f"  {part}: {index + 1}/{len(pairs)} {pair.name}", highlight=False)
    return rows


def cell(value: float, digits: int = 2) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def pairs_table(part: str, rows: Sequence[Row]) -> Table:
    target, other = PARTS[part]
    table = Table(title=f"{part}: per pair (48 kHz, full band)", title_justify="left")
    speech = ("STOI", "PESQ") if part == "voice" else ()
    for header in ("pair", "method", f"{target} SDR", *speech, f"ΔHF {target}", f"ΔHF {other}",
                   "RTF", "note"):
        table.add_column(header, no_wrap=header in ("pair", "method"),
                         justify="left" if header in ("pair", "method", "note") else "right")
    previous = None
    for row in rows:
        table.add_row(row.pair if row.pair != previous else "", row.method, cell(row.sdr),
                      *((cell(row.stoi, 3), cell(row.pesq)) if speech else ()),
                      *(cell(v, 1) for v in row.high_band_db), cell(row.rtf, 4),
                      "[bold red]SWAPPED[/]" if row.swapped else "")
        previous = row.pair
    return table


def mean_rows(rows: Sequence[Row], *, by_group: bool = False
              ) -> dict[tuple[str, str], dict[str, float]]:
    """Per (method, group) — the group ``"all"`` unless ``by_group`` —: mean SDR, STOI and
    PESQ (NaN where not scored) and ΔHF per stem, pairs with each stem's ΔHF within the aim,
    RTF (all the time over all the audio), swaps and the number of pairs."""
    means: dict[tuple[str, str], dict[str, float]] = {}
    for key in dict.fromkeys((row.method, row.group if by_group else "all") for row in rows):
        own = [row for row in rows if (row.method, row.group if by_group else "all") == key]
        high_band = np.array([row.high_band_db for row in own])
        within = np.sum(np.abs(high_band) <= HIGH_BAND_TARGET_DB, axis=0)
        means[key] = {
            "sdr": float(np.mean([row.sdr for row in own])),
            **{name: _finite_mean([getattr(row, name) for row in own])
               for name in ("stoi", "pesq")},
            "high_band_target_db": float(np.mean(high_band[:, 0])),
            "high_band_other_db": float(np.mean(high_band[:, 1])),
            "within_target": float(within[0]), "within_other": float(within[1]),
            "rtf": sum(row.seconds for row in own) / sum(row.audio_seconds for row in own),
            "swaps": float(sum(row.swapped for row in own)), "n": float(len(own))}
    return means


def _finite_mean(values: Sequence[float]) -> float:
    finite = [value for value in values if math.isfinite(value)]
    return float(np.mean(finite)) if finite else math.nan


def means_table(part: str, rows: Sequence[Row], *, by_group: bool = False) -> Table:
    target, other = PARTS[part]
    group_name = GROUPS[part]
    table = Table(title=f"{part}: means per {group_name}" if by_group
                  else f"{part}: means over all pairs", title_justify="left")
    speech = ("STOI", "PESQ") if part == "voice" else ()
    headers = ("method", f"{target} SDR", *speech, f"ΔHF {target}", f"ΔHF {other}",
               *(f"|ΔHF {name}| ≤ {HIGH_BAND_TARGET_DB:g}" for name in (target, other)),
               "RTF", "swaps", "n")
    for header in ((group_name,) if by_group else ()) + headers:
        table.add_column(header, no_wrap=True,
                         justify="left" if header in ("method", group_name) else "right")
    previous = None
    for (method, group), mean in mean_rows(rows, by_group=by_group).items():
        first = [group if group != previous else ""] if by_group else []
        previous = group
        table.add_row(*first, method, cell(mean["sdr"]),
                      *((cell(mean["stoi"], 3), cell(mean["pesq"])) if speech else ()),
                      cell(mean["high_band_target_db"], 1),
                      cell(mean["high_band_other_db"], 1),
                      f"{mean['within_target']:.0f}/{mean['n']:.0f}",
                      f"{mean['within_other']:.0f}/{mean['n']:.0f}", cell(mean["rtf"], 4),
                      f"{mean['swaps']:.0f}", f"{mean['n']:.0f}")
    return table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=root / "corpus48", metavar="DIR",
                        help="a corpus built at 48 kHz (default: %(default)s)")
    parser.add_argument("--part", choices=tuple(PARTS), action="append",
                        help="voice, bass-drums (repeatable; default: both)")
    parser.add_argument("--voice-preset", action="append", metavar="NAME_OR_PATH",
                        help=f"default: {' and '.join(DEFAULT_PRESETS['voice'])}")
    parser.add_argument("--bass-preset", action="append", metavar="NAME_OR_PATH",
                        help=f"default: {' and '.join(DEFAULT_PRESETS['bass-drums'])}")
    parser.add_argument("--noises", default=",".join(GENERATED_NOISES), metavar="A,B,...",
                        help="generated noises (default: %(default)s)")
    parser.add_argument("--snr", nargs="+", type=float, default=[0.0, 5.0], metavar="DB")
    parser.add_argument("--seconds", type=float, default=8.0, help="voice pairs' length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--block-size", type=int, default=256,
                        help="samples per engine call at 48 kHz (default: %(default)s)")
    parser.add_argument("--enrolled", action="store_true",
                        help="the voice part also enrols each reader in each noise, at 16 "
                             "and 48 kHz")
    parser.add_argument("--enrol-voice", type=float, default=30.0, metavar="S",
                        help="seconds of the reader's voice to enrol (default 30)")
    parser.add_argument("--enrol-room", type=float, default=10.0, metavar="S",
                        help="seconds of the room to enrol (default 10)")
    parser.add_argument("--quick", action="store_true",
                        help="readers lt and uk, three noises, the first SNR, one kit")
    parser.add_argument("--no-rnnoise", action="store_true",
                        help="leave RNNoise out of the voice part")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = wide_console()
    started = time.perf_counter()
    parts = list(dict.fromkeys(args.part or PARTS))
    specs = {"voice": args.voice_preset or DEFAULT_PRESETS["voice"],
             "bass-drums": args.bass_preset or DEFAULT_PRESETS["bass-drums"]}
    noises = [name.strip() for name in args.noises.split(",") if name.strip()]
    readers = TEST_READERS[:2] if args.quick else TEST_READERS
    results: dict[str, list[Row]] = {}
    try:
        unknown = [name for name in noises if name not in GENERATED_NOISES]
        if unknown or not noises:
            raise ParameterError(f"unknown noise {', '.join(unknown) or '(none given)'}; "
                                 f"generated: {', '.join(GENERATED_NOISES)}")
        manifest = corpus_manifest(args.corpus)
        for part in parts:
            presets = [load_preset(spec) for spec in specs[part]]
            names = [p.name for p in presets]
            if len(set(names)) < len(names):
                raise ParameterError(f"two {part} presets are named alike ({', '.join(names)}): "
                                     f"rows are named by preset, so rename one")
            console.print(f"{part}: " + "; ".join(
                f"{p.name} at {p.sr} Hz, {p.n_fft} / {p.hop_length}" for p in presets),
                highlight=False)
            pairs = voice_pairs(args.corpus, readers, noises[:3] if args.quick else noises,
                                args.snr[:1] if args.quick else args.snr, args.seconds,
                                args.seed) if part == "voice" \
                else bass_drums_pairs(args.corpus, manifest, 1 if args.quick else None)
            rows = run_part(part, pairs, presets, args.block_size, console)
            if part == "voice" and not args.no_rnnoise:
                order = {pair.name: index for index, pair in enumerate(pairs)}
                rows = sorted(rows + rnnoise_rows(pairs, console),
                              key=lambda row: order[row.pair])
            if part == "voice" and args.enrolled:
                order = {pair.name: index for index, pair in enumerate(pairs)}
                rows = sorted(rows + enrolled_rows(
                    args.corpus, pairs, voice_seconds=args.enrol_voice,
                    room_seconds=args.enrol_room, seed=args.seed, block_size=args.block_size,
                    console=console), key=lambda row: order[row.pair])
            results[part] = rows
    except LivesepError as error:
        console.print(f"[bold red]error:[/] {error}")
        return 1
    for part, rows in results.items():
        console.print(pairs_table(part, rows))
        if len({row.group for row in rows}) < len({row.pair for row in rows}):
            console.print(means_table(part, rows, by_group=True))
        console.print(means_table(part, rows))
    swaps = [f"{row.pair} {row.method}" for rows in results.values() for row in rows
             if row.swapped]
    if swaps:
        console.print(f"[bold red]swapped outputs (a failure):[/] {', '.join(swaps)}")
    elapsed = time.perf_counter() - started
    console.print(f"{FLOOR} is the noisy input, {CEILING} the ideal ratio mask at 48 kHz; "
                  f"ΔHF = stem energy above {HIGH_BAND_HZ / 1000:g} kHz over the reference's "
                  f"(aim: within ±{HIGH_BAND_TARGET_DB:g} dB); RTF = processing time / audio "
                  f"time in this run. Total time {elapsed:.0f} s.", highlight=False)
    if args.json:
        args.json.write_text(json.dumps(json_ready({
            "sr": SR, "seconds": args.seconds, "seed": args.seed, "snr_db": args.snr,
            "block_size": args.block_size, "presets": {p: specs[p] for p in parts},
            "total_seconds": elapsed,
            "means": {part: {f"{method}|{group}": mean for by_group in (False, True)
                             for (method, group), mean in mean_rows(
                                 rows, by_group=by_group).items()}
                      for part, rows in results.items()},
            "rows": [{**asdict(row), "rtf": row.rtf} for rows in results.values()
                     for row in rows]}), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
