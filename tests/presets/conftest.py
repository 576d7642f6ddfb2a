"""Shared fixtures for the tests of livesep.presets: presets and the files they save to."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.preset_files import make_convolutive_preset, make_preset
from livesep.presets import Preset, save


@pytest.fixture
def preset() -> Preset:
    return make_preset()


@pytest.fixture
def saved(tmp_path: Path, preset: Preset) -> Path:
    return save(preset, tmp_path / "saved.npz")


@pytest.fixture
def small_saved(tmp_path: Path) -> Path:
    return save(make_preset(n_fft=32, hop_length=8, components=(2, 2)), tmp_path / "s.npz")


@pytest.fixture
def convolutive_saved(tmp_path: Path) -> Path:
    return save(make_convolutive_preset(), tmp_path / "conv.npz")
