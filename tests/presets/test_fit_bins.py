"""A fit on the lower bins (a preset's ``fit_bins``): round trip in format version 5, the
older versions for every other preset, the constructor's and the reader's checks, repr and
describe."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from helpers.preset_files import (
    F,
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
from livesep.presets import FORMAT_VERSIONS, Preset, describe, load, save


def plain(preset: Preset) -> Preset:
    """The preset with no adaptive source."""
    return dataclasses.replace(preset, sources=[dataclasses.replace(s, adaptive=False)
                                                for s in preset.sources])


def lower_fit(bins: int = 10) -> Preset:
    return dataclasses.replace(plain(make_preset()), fit_bins=bins)


def test_fit_bins_round_trips_in_version_5(tmp_path: Path) -> None:
    original = lower_fit()
    path = save(original, tmp_path / "lower.npz")
    loaded = load(path)
    assert loaded == original
    assert loaded.fit_bins == loaded.fitted_bins == 10
    meta, _ = unpack(path)
    assert meta["version"] == 5 == FORMAT_VERSIONS[4]
    assert meta["fit_bins"] == 10
    assert "fit_bins=10" in repr(loaded)
    top = 9 * loaded.sr / loaded.n_fft
    assert f"fitted on the 10 bins up to {top:g} Hz; its estimates cover all {F}" \
        in describe(path)


def test_presets_without_fit_bins_keep_their_older_version(tmp_path: Path) -> None:
    for preset, version in ((make_preset(), 1), (make_unfolded_preset(), 2)):
        meta, _ = unpack(save(preset, tmp_path / "old.npz"))
        assert meta["version"] == version and "fit_bins" not in meta
        assert load(tmp_path / "old.npz").fit_bins is None
    assert "fitted on" not in describe(make_preset())


def test_fit_bins_in_an_older_version_is_refused(tmp_path: Path) -> None:
    meta, arrays = unpack(save(lower_fit(), tmp_path / "lower.npz"))
    meta["version"] = 4
    older = pack(tmp_path / "v4.npz", members_of(meta, arrays))
    rejected(older, "fit_bins (10) is not a field of version 4 files",
             "fits on the lower bins came with version 5")


@pytest.mark.parametrize("value, needle", [
    (1, "fit_bins must be in [2, "),
    (F, f"fit_bins must be in [2, {F - 1}], got {F}"),
    (True, "fit_bins must be an integer, got True"),
    ("10", "fit_bins must be an integer, got '10'"),
    (10.5, "fit_bins must be an integer, got 10.5"),
])
def test_bad_fit_bins_are_refused(tmp_path: Path, value: object, needle: str) -> None:
    saved = save(lower_fit(), tmp_path / "lower.npz")
    rejected(write_case(tmp_path, saved, set_meta("fit_bins", value)), needle)


def test_fit_bins_beside_an_adaptive_source_is_refused(tmp_path: Path) -> None:
    saved = save(lower_fit(), tmp_path / "lower.npz")
    rejected(write_case(tmp_path, saved, set_meta("sources.1.adaptive", True)),
             "fit_bins (10) needs sources without layers, frames or adaptation, and no "
             "encoder")


@pytest.mark.parametrize("make", [make_preset, make_unfolded_preset],
                         ids=["adaptive", "unfolded"])
def test_fit_bins_needs_plain_sources(make: object) -> None:
    with pytest.raises(ParameterError, match=r"fit_bins \(10\) needs sources without"):
        dataclasses.replace(make(), fit_bins=10)  # type: ignore[operator]


def test_fit_bins_beside_a_noise_floor_round_trips(tmp_path: Path) -> None:
    preset = lower_fit()
    floored = dataclasses.replace(preset, sources=[
        preset.sources[0], dataclasses.replace(preset.sources[1], floor=30.0)])
    path = save(floored, tmp_path / "floored.npz")
    assert load(path) == floored
    meta, _ = unpack(path)
    assert meta["version"] == 5 and meta["sources"][1]["floor"] == 30.0


def test_fit_bins_must_leave_bins_above() -> None:
    with pytest.raises(ParameterError, match=rf"fit_bins must be in \[2, {F - 1}\], got {F}"):
        lower_fit(F)
