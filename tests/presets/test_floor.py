"""Noise floors (a source's ``floor``): round trip in format version 4, the older versions for
every other preset, the constructor's and the reader's checks, load_meta and describe."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from helpers.preset_files import (
    make_preset,
    make_unfolded_preset,
    members_of,
    pack,
    rejected,
    set_meta,
    unpack,
    write_case,
)
from livesep.errors import ParameterError
from livesep.presets import FORMAT_VERSIONS, Preset, describe, load, load_meta, save


def floored(preset: Preset, weight: float = 30.0) -> Preset:
    """The preset with a floor on its last source (made not adaptive)."""
    *rest, last = preset.sources
    return dataclasses.replace(preset, sources=[
        *rest, dataclasses.replace(last, adaptive=False, floor=weight)])


@pytest.mark.parametrize("make", [make_preset, make_unfolded_preset], ids=["nhmm", "unfolded"])
def test_a_floor_round_trips_in_version_4(tmp_path: Path, make: object) -> None:
    original = floored(make())  # type: ignore[operator]
    path = save(original, tmp_path / "floor.npz")
    assert load(path) == original
    meta, _ = unpack(path)
    assert meta["version"] == 4 == FORMAT_VERSIONS[3]
    assert "floor" not in meta["sources"][0] and meta["sources"][1]["floor"] == 30.0
    assert load_meta(path).sources[1].floor == 30.0
    assert load_meta(path).sources[0].floor == 0.0
    assert "noise floor tracked from the stream (weight 30)" in describe(path)
    assert "floor=30" in repr(original.sources[1])


def test_presets_without_a_floor_keep_their_older_version(tmp_path: Path) -> None:
    for preset, version in ((make_preset(), 1), (make_unfolded_preset(), 2)):
        meta, _ = unpack(save(preset, tmp_path / "old.npz"))
        assert meta["version"] == version
        assert all("floor" not in entry for entry in meta["sources"])


def test_a_floor_in_an_older_version_is_refused(tmp_path: Path) -> None:
    path = save(floored(make_unfolded_preset()), tmp_path / "floor.npz")
    meta, arrays = unpack(path)
    meta["version"] = 3
    older = pack(tmp_path / "v3.npz", members_of(meta, arrays))
    rejected(older, "sources[1].floor (30.0) is not a field of version 3 files",
             "noise floors came with version 4")


@pytest.mark.parametrize("value, needle", [
    (0.0, "floor is 0: a source without a floor leaves the field out"),
    (-1.0, "must be in [0, 1e+06], got -1.0"),
    (2e6, "must be in [0, 1e+06]"),
    (True, "must be a number, got True (bool)"),
    ("30", "must be a number, got '30' (str)"),
])
def test_bad_floors_are_refused(tmp_path: Path, value: object, needle: str) -> None:
    saved = save(floored(make_unfolded_preset()), tmp_path / "floor.npz")
    rejected(write_case(tmp_path, saved, set_meta("sources.1.floor", value)), needle)


def test_a_floor_on_an_adaptive_source_is_refused(tmp_path: Path) -> None:
    saved = save(floored(make_preset()), tmp_path / "floor.npz")
    rejected(write_case(tmp_path, saved, set_meta("sources.1.adaptive", True)),
             "sources[1].floor is 30 but the source adapts")
    with pytest.raises(ParameterError, match="floor is 30 but the source adapts"):
        dataclasses.replace(make_preset().sources[1], floor=30.0)
    with pytest.raises(ParameterError, match=r"floor must be in \[0, 1e\+06\], got nan"):
        dataclasses.replace(make_preset().sources[0], floor=float("nan"))
