"""Audio that comes with livesep: the demo recording, two voices and their mixture, which
the demo separates (:mod:`livesep.evaluation.demo`) and the desktop app plays."""

from __future__ import annotations

from pathlib import Path

__all__ = ["demo_material_dir"]


def demo_material_dir() -> Path:
    """The folder of the bundled demo recording: mix.flac, its two sources and demo.json."""
    return Path(__file__).resolve().parent / "data" / "demo"
