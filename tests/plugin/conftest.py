"""Fixtures for the engine without Python and the LV2 plugin: a native CMake build of the
C++ tests, and the plugin installed by ``livesep plugin install`` into a private LV2 folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.lv2 import tool
from livesep.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def native_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository configured and built by CMake without Python (ctest, the raw
    front end, the plugin)."""
    build = tmp_path_factory.mktemp("native-build")
    subprocess.run([tool("cmake"), "-S", str(ROOT), "-B", str(build), "-DLIVESEP_PYTHON=OFF",
                    f"-DPython_EXECUTABLE={sys.executable}", "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, capture_output=True)
    subprocess.run([tool("cmake"), "--build", str(build), "-j", "2"], check=True,
                   capture_output=True)
    return build


@pytest.fixture(scope="session")
def lv2_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An LV2 folder holding livesep.lv2 as `livesep plugin install --dest` puts it."""
    folder = tmp_path_factory.mktemp("lv2")
    assert main(["plugin", "install", "--dest", str(folder)]) == 0
    return folder


@pytest.fixture(scope="session")
def speech_in_noise(corpus: Path) -> tuple[np.ndarray, int]:
    """Four seconds of a corpus mixture of a voice and breath noise (16 kHz)."""
    mix, rate = sf.read(corpus / "mixtures" / "speech-noise-uk-breath" / "mix.wav",
                        dtype="float32")
    return mix[: 4 * rate], rate

