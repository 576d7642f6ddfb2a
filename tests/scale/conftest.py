"""A Dask LocalCluster of two single-threaded worker processes, shared by the tests here.

Dask logs its housekeeping (a worker restarted by its nanny after a test kills it, comms
closed at shutdown) at INFO and WARNING; those lines are what the tests provoke, so its
loggers are set to ERROR for the session. Warnings stay errors (pytest's -W error).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livesep import audio
from livesep.scale import ClusterSettings, dask_client
from livesep.scale.cluster import quiet_dask_logs


@pytest.fixture(scope="session")
def client() -> Iterator[Any]:
    """A client of a 2-worker LocalCluster (processes, one thread each)."""
    quiet_dask_logs(logging.ERROR)
    with dask_client(ClusterSettings(workers=2)) as connected:
        connected.wait_for_workers(2, timeout=60)
        yield connected


@pytest.fixture(scope="session")
def speech_clips(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six 4-second clips of real speech from three corpus readers, at 16 kHz."""
    folder = tmp_path_factory.mktemp("clips")
    clips = []
    for reader in ("en", "lt", "nl"):
        y, sr = audio.load(corpus / "speech" / reader / "train.wav", sr=16000)
        for part in range(2):
            start = (5 + 7 * part) * sr
            clips.append(audio.write(folder / f"{reader}{part}.wav",
                                     np.asarray(y[start:start + 4 * sr]), sr=sr))
    return clips
