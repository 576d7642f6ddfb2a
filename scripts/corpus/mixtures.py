"""Mixtures: pairs of test files mixed at an SNR, with the references as they are in the mix.

Test material only, ``mixtures/<pair>/mix.wav`` and one ``<source>.wav`` per source; built
from the other parts' test files, so those are built first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livesep.audio import load

from .common import CorpusError
from .noise import NOISES
from .signals import mix_at_snr, write_wav
from .speech import READERS

#: The longest mixture, in seconds.
MIXTURE_MAX_S = 20.0


@dataclass(frozen=True)
class MixtureSpec:
    """A test mixture: reference names and the test files they come from (relative to DIR)."""

    name: str
    sources: tuple[tuple[str, str], tuple[str, str]]
    snr_db: float = 0.0


#: One reader of each voice for the speech-noise mixtures: those with the most test speech
#: (en has only 6 s of it).
SPEECH_NOISE_READERS = ("lt", "uk", "es")


def default_mixtures() -> list[MixtureSpec]:
    """Every test mixture the full build makes.

    Returns
    -------
    list of MixtureSpec
        ``male-female-<m>-<f>`` for each allowed male x female reader pair,
        ``speech-noise-<reader>-<noise>`` for :data:`SPEECH_NOISE_READERS` x :data:`NOISES`,
        ``bass-drums`` and ``piano-sax``, all at 0 dB.
    """
    males = [r for r, voice in READERS.items() if voice == "male"]
    females = [r for r, voice in READERS.items() if voice == "female"]
    specs = [MixtureSpec(f"male-female-{m}-{f}", (("male", f"speech/{m}/test.wav"),
                                                  ("female", f"speech/{f}/test.wav")))
             for m in males for f in females]
    specs += [MixtureSpec(f"speech-noise-{r}-{n}", (("speech", f"speech/{r}/test.wav"),
                                                    ("noise", f"noise/{n}/test.wav")))
              for r in SPEECH_NOISE_READERS for n in NOISES]
    specs.append(MixtureSpec("bass-drums", (("bass", "instruments/finger_bass/test.wav"),
                                            ("drums", "drums/test.wav"))))
    specs.append(MixtureSpec("piano-sax", (("piano", "instruments/piano/test.wav"),
                                           ("sax", "instruments/alto_sax/test.wav"))))
    return specs


def _mixture_task(out_dir: Path, sr: int, spec: MixtureSpec,
                  max_seconds: float) -> dict[str, Any]:
    signals = []
    for _, relative in spec.sources:
        path = out_dir / relative
        if not path.is_file():
            raise CorpusError(f"mixture {spec.name} needs {path}: build its part first")
        y, file_sr = load(path)
        if file_sr != sr:
            raise CorpusError(f"{path} is at {file_sr} Hz, not {sr} Hz: rebuild it")
        signals.append(y[:round(max_seconds * sr)])
    mix, a, b = mix_at_snr(signals[0], signals[1], spec.snr_db)
    folder = out_dir / "mixtures" / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    for (name, _), y in zip(spec.sources, (a, b)):
        write_wav(folder / f"{name}.wav", y, sr=sr)
    write_wav(folder / "mix.wav", mix, sr=sr)
    return {"folder": f"mixtures/{spec.name}", "snr_db": spec.snr_db,
            "seconds": round(len(mix) / sr, 3),
            "sources": {name: relative for name, relative in spec.sources}}
