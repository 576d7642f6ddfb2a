"""Reading preset files: refusal of missing, non-zip, truncated and corrupt files; load_meta
and describe."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers.preset_files import (
    HOP,
    N_FFT,
    SR,
    make_source,
    members_of,
    npy,
    pack,
    rejected,
    unpack,
)
from livesep.errors import ParameterError, PresetError
from livesep.presets import Preset, PresetInfo, describe, load, load_meta

# --------------------------------------------------------------------------- rejections

def test_load_rejects_missing_file_and_folder(tmp_path: Path) -> None:
    rejected(tmp_path / "absent.npz", "no such file")
    rejected(tmp_path, "folder")
    with pytest.raises(ParameterError):
        load(42)  # type: ignore[arg-type]


def test_load_rejects_non_zip(tmp_path: Path) -> None:
    path = tmp_path / "text.npz"
    path.write_text("just some text, not a zip")
    rejected(path, "not a preset file", "zip")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    rejected(empty, "not a preset file")
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros(3))
    rejected(plain, "not a preset file")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_load_rejects_truncated_file(tmp_path: Path, saved: Path, fraction: float) -> None:
    data = saved.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:int(len(data) * fraction)])
    rejected(path)


def test_load_rejects_duplicate_entries(tmp_path: Path, saved: Path) -> None:
    meta, arrays = unpack(saved)
    members = members_of(meta, arrays)
    path = tmp_path / "dup.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(path, "w") as archive:
            for name, payload in members.items():
                archive.writestr(name, payload)
            archive.writestr("source0.A.npy", members["source0.A.npy"])
    rejected(path, "'source0.A.npy'", "twice")


def test_load_rejects_too_many_entries(tmp_path: Path, saved: Path) -> None:
    meta, arrays = unpack(saved)
    members = members_of(meta, arrays)
    members.update({f"source{i}.W.npy": npy(np.zeros(1)) for i in range(2, 400)})
    rejected(pack(tmp_path / "many.npz", members), "entries")


def test_load_rejects_bad_crc(tmp_path: Path, saved: Path) -> None:
    meta, arrays = unpack(saved)
    path = pack(tmp_path / "stored.npz", members_of(meta, arrays), compression=zipfile.ZIP_STORED)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("source0.W.npy")
    data = bytearray(path.read_bytes())
    # Flip a bit in the middle of W's float data (a low mantissa bit keeps the sums valid):
    # only the zip's CRC can notice.
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    rejected(path, "source0.W", "CRC")


# --------------------------------------------------------------------------- load_meta, describe

def test_load_meta(saved: Path, preset: Preset) -> None:
    info = load_meta(saved)
    assert isinstance(info, PresetInfo)
    assert info.path == saved and info.file_size == saved.stat().st_size
    for field in ("name", "description", "sr", "n_fft", "hop_length", "window", "model",
                  "created", "livesep_version", "source_names", "n_sources", "n_bins",
                  "n_parameters", "nbytes"):
        assert getattr(info, field) == getattr(preset, field), field
    for got, want in zip(info.sources, preset.sources):
        assert (got.name, got.n_states, got.n_bins, got.n_components, got.adaptive,
                got.provenance) == (want.name, want.n_states, want.n_bins,
                                    want.n_components, want.adaptive, want.provenance)
        assert got.n_parameters == want.n_parameters


def test_describe(saved: Path, preset: Preset) -> None:
    text = describe(preset)
    for needle in ("Preset 'two'", "a test preset", "model nhmm", "sr 16000 Hz", "n_fft 64",
                   "hop 16", "sqrt-hann", "2 sources", f"{preset.n_parameters} parameters",
                   "- voice: 2 states x 3 components", "fixed",
                   "- noise: 1 state x 2 components", "adaptive", "files: 5 items",
                   "voice/0.wav", "seconds: 12.5", "iterations: 100",
                   "log_likelihood: -1234.5", "settings: beta=1, l1=0.1"):
        assert needle in text, (needle, text)
    assert "file:" not in text
    from_file = describe(saved)
    assert f"file: {saved} (" in from_file and "KiB)" in from_file
    assert from_file.replace(from_file.splitlines()[2] + "\n", "") == text
    assert f"file: {saved}" in describe(load_meta(saved))
    bare = Preset("bare", sr=SR, n_fft=N_FFT, hop_length=HOP, model="nmf",
                  sources=[make_source("a", 1, 1)])
    assert "no provenance recorded" in describe(bare)
    with pytest.raises(PresetError):
        describe(saved.with_name("absent.npz"))
