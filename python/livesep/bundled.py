"""Audio that comes with livesep: the demo recording, two voices and their mixture.

The demo separates it (:mod:`livesep.evaluation.demo`); enrolment of a room alone takes its
voices as the speech to mix with the room (:mod:`livesep.models.unfolded.enrol`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from livesep import audio

__all__ = ["demo_material_dir", "bundled_voices"]


def demo_material_dir() -> Path:
    """The folder of the bundled demo recording: mix.flac, its two sources and demo.json."""
    return Path(__file__).resolve().parent / "data" / "demo"


def bundled_voices(sr: int) -> list[npt.NDArray[np.float32]]:
    """The demo's two voices (6 s each, a man and a woman), mono at ``sr``."""
    folder = demo_material_dir()
    return [audio.load(folder / name, sr=sr)[0] for name in ("male.flac", "female.flac")]
