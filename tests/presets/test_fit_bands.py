"""A fit on bands above a frequency (a preset's ``fit_bands_above``): round trip in format
version 7, the older versions for every other preset, the constructor's and the reader's
checks, repr and describe."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from helpers.preset_files import (
    SR,
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

ABOVE = SR / 8


def banded(above: float = ABOVE) -> Preset:
    return dataclasses.replace(make_unfolded_preset(), fit_bands_above=above)


def test_fit_bands_above_round_trips_in_version_7(tmp_path: Path) -> None:
    original = banded()
    path = save(original, tmp_path / "banded.npz")
    loaded = load(path)
    assert loaded == original and loaded.fit_bands_above == ABOVE
    meta, _ = unpack(path)
    assert meta["version"] == 7 == FORMAT_VERSIONS[6]
    assert meta["fit_bands_above"] == ABOVE
    assert f"fit_bands_above={ABOVE:g}" in repr(loaded)
    assert f"fitted bin by bin up to {ABOVE:g} Hz and on 1/12-octave bands above" \
        in describe(path)


def test_presets_without_it_keep_their_older_version(tmp_path: Path) -> None:
    meta, _ = unpack(save(make_unfolded_preset(), tmp_path / "old.npz"))
    assert meta["version"] == 2 and "fit_bands_above" not in meta
    assert load(tmp_path / "old.npz").fit_bands_above is None
    assert "1/12-octave" not in describe(make_unfolded_preset())


def test_fit_bands_above_in_an_older_version_is_refused(tmp_path: Path) -> None:
    meta, arrays = unpack(save(banded(), tmp_path / "banded.npz"))
    meta["version"] = 6
    older = pack(tmp_path / "v6.npz", members_of(meta, arrays))
    rejected(older, f"fit_bands_above ({ABOVE!r}) is not a field of version 6 files",
             "fits on bands came with version 7")


@pytest.mark.parametrize("value, needle", [
    (0, "fit_bands_above must be a finite number > 0, got 0"),
    (-100.0, "fit_bands_above must be a finite number > 0, got -100"),
    (SR / 2, f"fit_bands_above must be below the Nyquist frequency {SR / 2:g} Hz, got 8000"),
    (SR, f"fit_bands_above must be below the Nyquist frequency {SR / 2:g} Hz, got 16000"),
    (True, "fit_bands_above must be a number of Hz, got True"),
    ("2000", "fit_bands_above must be a number of Hz, got '2000'"),
])
def test_bad_fit_bands_above_is_refused(tmp_path: Path, value: object, needle: str) -> None:
    saved = save(banded(), tmp_path / "banded.npz")
    rejected(write_case(tmp_path, saved, set_meta("fit_bands_above", value)), needle)


def test_fit_bands_above_needs_sources_that_can_be_fitted_on_bands() -> None:
    with pytest.raises(ParameterError, match=r"fit_bands_above \(2000\) needs sources without "
                                             r"frames or adaptation"):
        dataclasses.replace(make_preset(), fit_bands_above=2000.0)  # an adaptive source


def test_fit_bands_above_and_fit_bins_exclude_each_other() -> None:
    plain = make_preset()
    plain = dataclasses.replace(plain, sources=[dataclasses.replace(s, adaptive=False)
                                                for s in plain.sources], fit_bins=10)
    with pytest.raises(ParameterError, match=r"fit_bands_above \(2000\) and fit_bins \(10\) "
                                             r"exclude each other"):
        dataclasses.replace(plain, fit_bands_above=2000.0)
