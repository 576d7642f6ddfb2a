"""Fuzzing the loader: every damaged file loads as a valid preset or is refused in time."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from helpers.preset_files import assert_valid, make_convolutive_preset, pack, time_limit
from livesep.errors import PresetError
from livesep.presets import load, save

# --------------------------------------------------------------------------- fuzzing

def _outcome(path: Path) -> str:
    """Load ``path`` under a time limit: a valid preset or a PresetError naming the file."""
    with time_limit(2.0):
        try:
            loaded = load(path)
        except PresetError as error:
            assert str(error).startswith(f"{path}: "), str(error)
            return "rejected"
    assert_valid(loaded)
    return "loaded"


def test_fuzz_truncation(tmp_path: Path, small_saved: Path) -> None:
    data = small_saved.read_bytes()
    path = tmp_path / "fuzz.npz"
    outcomes = set()
    for length in range(len(data)):
        path.write_bytes(data[:length])
        outcomes.add(_outcome(path))
    assert outcomes == {"rejected"}


def test_fuzz_bit_flips(tmp_path: Path, small_saved: Path) -> None:
    data = small_saved.read_bytes()
    path = tmp_path / "fuzz.npz"
    counts = {"loaded": 0, "rejected": 0}
    for seed in range(1500):
        rng = np.random.default_rng(seed)
        mutated = bytearray(data)
        for position in rng.integers(0, len(data), size=rng.integers(1, 5)):
            mutated[position] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(mutated))
        counts[_outcome(path)] += 1
    assert counts["rejected"] > 1000, counts


def test_fuzz_members_with_valid_crc(tmp_path: Path, small_saved: Path) -> None:
    """Flip bits inside the .npy members and repack with correct CRCs, so the flips reach
    the .npy headers, the meta JSON and the float data instead of being caught by the zip."""
    with zipfile.ZipFile(small_saved) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    names = sorted(members)
    path = tmp_path / "fuzz.npz"
    counts = {"loaded": 0, "rejected": 0}
    for seed in range(1500):
        rng = np.random.default_rng(seed)
        name = names[int(rng.integers(0, len(names)))]
        payload = bytearray(members[name])
        # Half the cases aim at the first 128 bytes: the .npy magic and header.
        end = min(len(payload), 128) if seed % 2 else len(payload)
        for position in rng.integers(0, end, size=rng.integers(1, 4)):
            payload[position] ^= 1 << int(rng.integers(0, 8))
        if seed % 7 == 0:  # sometimes also cut the member short or extend it
            payload = payload[:int(rng.integers(0, len(payload)))] if seed % 2 else (
                payload + bytes(int(rng.integers(1, 9))))
        pack(path, {**members, name: bytes(payload)},
             compression=zipfile.ZIP_STORED if seed % 3 else zipfile.ZIP_DEFLATED)
        counts[_outcome(path)] += 1
    # Flips in low mantissa bits of W leave a valid preset; most flips must be refused.
    assert counts["loaded"] > 0 and counts["rejected"] > 500, counts


def test_fuzz_convolutive_members_with_valid_crc(tmp_path: Path) -> None:
    """As test_fuzz_members_with_valid_crc, on a preset with a convolutive source."""
    saved = save(make_convolutive_preset(n_fft=32, hop_length=8), tmp_path / "c.npz")
    with zipfile.ZipFile(saved) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    names = sorted(members)
    path = tmp_path / "fuzz.npz"
    counts = {"loaded": 0, "rejected": 0}
    for seed in range(600):
        rng = np.random.default_rng(seed)
        name = names[int(rng.integers(0, len(names)))]
        payload = bytearray(members[name])
        end = min(len(payload), 128) if seed % 2 else len(payload)
        for position in rng.integers(0, end, size=rng.integers(1, 4)):
            payload[position] ^= 1 << int(rng.integers(0, 8))
        pack(path, {**members, name: bytes(payload)})
        counts[_outcome(path)] += 1
    assert counts["loaded"] > 0 and counts["rejected"] > 200, counts
