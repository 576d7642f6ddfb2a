"""Saving presets: atomic replacement, permissions and reporting of write failures."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers.preset_files import make_preset
from livesep.errors import ParameterError, PresetError
from livesep.presets import Preset, save

# --------------------------------------------------------------------------- saving

def test_save_leaves_no_temporary_files(tmp_path: Path, preset: Preset) -> None:
    save(preset, tmp_path / "a.npz")
    save(preset, tmp_path / "a.npz")  # replaces
    save(preset, str(tmp_path / "b.preset"))  # any name, str path, no suffix added
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.preset"]


def test_save_keeps_existing_permissions(tmp_path: Path, preset: Preset) -> None:
    path = save(preset, tmp_path / "a.npz")
    os.chmod(path, 0o640)
    save(preset, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("failure, expected", [
    (OSError(28, "No space left on device"), PresetError),
    (RuntimeError("boom"), RuntimeError),
    (KeyboardInterrupt(), KeyboardInterrupt),
])
def test_failed_save_keeps_the_old_file(tmp_path: Path, preset: Preset,
                                        monkeypatch: pytest.MonkeyPatch,
                                        failure: BaseException,
                                        expected: type[BaseException]) -> None:
    path = save(preset, tmp_path / "a.npz")
    before = path.read_bytes()

    def half_written(stream: Any, **entries: Any) -> None:
        stream.write(b"PK\x03\x04 partial")
        raise failure

    monkeypatch.setattr(np, "savez_compressed", half_written)
    with pytest.raises(expected) as caught:
        save(make_preset(seed=9), path)
    if expected is PresetError:
        assert str(caught.value).startswith(f"{path}: cannot write")
        assert "No space left" in str(caught.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_failed_replace_keeps_the_old_file(tmp_path: Path, preset: Preset,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(preset, tmp_path / "a.npz")
    before = path.read_bytes()

    def refuse(source: Any, target: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PresetError, match="Permission denied"):
        save(make_preset(seed=9), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_save_reports_missing_folder_and_bad_arguments(tmp_path: Path, preset: Preset) -> None:
    target = tmp_path / "no" / "such" / "a.npz"
    with pytest.raises(PresetError) as caught:
        save(preset, target)
    assert str(caught.value).startswith(f"{target}: cannot write")
    with pytest.raises(PresetError, match="cannot write"):
        save(preset, tmp_path)  # a folder
    with pytest.raises(ParameterError):
        save("not a preset", tmp_path / "x.npz")  # type: ignore[arg-type]
