"""A companion model (a preset's ``companion``): round trip in format version 6, the older
versions for every other preset, the constructor's and the reader's checks, repr and
describe."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from helpers.preset_files import (
    make_unfolded_preset,
    members_of,
    npy,
    pack,
    rejected,
    set_meta,
    unpack,
    write_case,
)
from helpers.presets import random_encoder_preset, random_preset
from livesep.errors import ParameterError, PresetError
from livesep.presets import (
    FORMAT_VERSIONS,
    Preset,
    combine,
    describe,
    extend_band,
    load,
    load_meta,
    save,
)


def pair(share: float = 0.35) -> Preset:
    """An unfolded preset with a recurrent companion of the same sources and frames."""
    main = make_unfolded_preset()
    companion = dataclasses.replace(
        random_encoder_preset((3, 2), n_fft=main.n_fft, hop_length=main.hop_length,
                              sr=main.sr, seed=4),
        name="beside")
    companion = companion.with_sources(
        [dataclasses.replace(s, name=n) for s, n in zip(companion.sources, main.source_names)])
    return dataclasses.replace(main, companion=companion, companion_share=share)


def test_a_companion_round_trips_in_version_6(tmp_path: Path) -> None:
    original = pair()
    path = save(original, tmp_path / "pair.npz")
    loaded = load(path)
    assert loaded == original
    assert loaded.companion == original.companion and loaded.companion_share == 0.35
    meta, arrays = unpack(path)
    assert meta["version"] == 6 == FORMAT_VERSIONS[5]
    assert meta["companion"]["share"] == 0.35
    assert meta["companion"]["preset"]["version"] == 3  # an encoder's, the oldest it fits
    assert {"companion.source0.W", "companion.encoder.input_weights"} <= set(arrays)
    assert "companion='beside' (0.35)" in repr(loaded)
    assert "companion 'beside' (model nae" in describe(path)
    assert "35 % of the masks" in describe(path)
    assert load_meta(path).name == original.name
    assert loaded.n_parameters == (sum(s.n_parameters for s in loaded.sources)
                                   + loaded.companion.n_parameters)


def test_presets_without_a_companion_keep_their_older_version(tmp_path: Path) -> None:
    meta, _ = unpack(save(make_unfolded_preset(), tmp_path / "old.npz"))
    assert meta["version"] == 2 and "companion" not in meta
    assert load(tmp_path / "old.npz").companion is None


def test_a_companion_in_an_older_version_is_refused(tmp_path: Path) -> None:
    meta, arrays = unpack(save(pair(), tmp_path / "pair.npz"))
    meta["version"] = 5
    meta["companion"]["preset"]["version"] = 3
    older = pack(tmp_path / "v5.npz", members_of(meta, arrays))
    rejected(older, "companion is not a field of version 5 files",
             "companions came with version 6")


@pytest.mark.parametrize("path, value, needle", [
    ("companion.share", 1.0, "companion.share must be a number in (0, 1), got 1.0"),
    ("companion.share", 0, "companion.share must be a number in (0, 1), got 0"),
    ("companion.share", True, "companion.share must be a number in (0, 1), got True"),
    ("companion.share", "0.3", "companion.share must be a number in (0, 1), got '0.3'"),
    ("companion", [0.3], "companion must be a JSON object with the fields 'share' and "
                         "'preset'"),
    ("companion.preset.version", 8, "companion.version: the file is livesep-preset version 8"),
    ("companion.preset.sr", 8000, "the companion 'beside' must have the sources ('voice', "
                                  "'noise'), and n_fft 64 and hop_length 16 at sr 16000"),
    ("companion.preset.sr", 32000, "got sources ('voice', 'noise'), n_fft 64 and hop_length 16 "
                                   "at sr 32000"),
    ("companion.preset.sources.0.name", "speech", "the companion 'beside' must have the "
                                                  "sources"),
    ("companion.preset.companion", {"share": 0.5, "preset": {}},
     "companion.companion: a companion has no companion of its own"),
])
def test_bad_companions_are_refused(tmp_path: Path, path: str, value: object,
                                    needle: str) -> None:
    saved = save(pair(), tmp_path / "pair.npz")
    rejected(write_case(tmp_path, saved, set_meta(path, value)), needle)


def test_a_companion_newer_than_its_file_is_refused(tmp_path: Path) -> None:
    saved = save(pair(), tmp_path / "pair.npz")
    meta, arrays = unpack(saved)
    meta["companion"]["preset"]["version"] = 6
    bad = pack(tmp_path / "newer.npz", members_of(meta, arrays))
    assert load(bad).companion is not None  # 6 inside 6 is allowed
    meta["version"] = 6
    meta["companion"]["preset"]["version"] = 6
    del meta["companion"]
    stray = pack(tmp_path / "stray.npz", members_of(meta, arrays))
    rejected(stray, "companion.", "a companion's array, but meta declares no companion")


def test_a_missing_or_extra_companion_array_is_refused(tmp_path: Path) -> None:
    meta, arrays = unpack(save(pair(), tmp_path / "pair.npz"))
    members = members_of(meta, arrays)
    del members["companion.source1.pi.npy"]
    rejected(pack(tmp_path / "missing.npz", members), "missing array 'companion.source1.pi'")
    members = members_of(meta, arrays)
    members["companion.source2.W.npy"] = npy(np.ones((1, 3, 1), np.float32))
    rejected(pack(tmp_path / "extra.npz", members),
             "companion.source2.W: the file holds arrays for source 2")


@pytest.mark.parametrize("change, needle", [
    (dict(companion_share=0.0), "companion_share must be a number in (0, 1), got 0.0"),
    (dict(companion_share=1), "companion_share must be a number in (0, 1), got 1"),
    (dict(companion=None), "companion_share is 0.35 but there is no companion"),
])
def test_the_constructor_checks_the_companion(change: dict[str, object], needle: str) -> None:
    with pytest.raises(ParameterError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        dataclasses.replace(pair(), **change)


def test_a_companion_must_fit_and_stand_alone() -> None:
    main = pair()
    with pytest.raises(ParameterError, match="has a companion of its own"):
        dataclasses.replace(main, companion=main)
    other = dataclasses.replace(main.companion, hop_length=main.hop_length // 2)
    with pytest.raises(ParameterError, match="must have the sources .* got sources .*, n_fft "
                                             "64 and hop_length 8 at sr 16000"):
        dataclasses.replace(main, companion=other)
    with pytest.raises(ParameterError, match="companion must be a Preset or None"):
        dataclasses.replace(main, companion="voice")


def test_new_sources_leave_the_companion_behind() -> None:
    main = pair()
    assert main.with_sources(main.sources).companion is None


def test_a_preset_with_a_companion_is_not_combined() -> None:
    with pytest.raises(PresetError, match="its masks are mixed with its companion 'beside'"):
        combine(pair(), make_unfolded_preset(names=("a", "b")), name="both")


def test_a_companion_at_a_lower_rate_covers_the_lower_bins(tmp_path: Path) -> None:
    names = ("speech", "noise")
    narrow, beside = random_preset((3, 2), 4, seed=5), random_encoder_preset((3, 2), seed=6)
    narrow, beside = (p.with_sources([dataclasses.replace(s, name=n) for s, n in
                                      zip(p.sources, names)]) for p in (narrow, beside))
    narrow = dataclasses.replace(narrow, companion=beside, companion_share=0.4)
    rng = np.random.default_rng(0)
    takes = {name: rng.standard_normal(48000).astype(np.float32)
             for name in narrow.source_names}
    wide = extend_band(narrow, takes, sr=48000)
    assert (wide.sr, wide.n_fft, wide.n_bins) == (48000, 1536, 769)
    assert wide.companion == narrow.companion and wide.companion_share == 0.4
    assert wide.companion.n_bins == 257
    loaded = load(save(wide, tmp_path / "wide.npz"))
    assert loaded == wide and loaded.companion == wide.companion
    assert "40 % of the masks up to 8000 Hz (its 16000 Hz band)" in describe(tmp_path /
                                                                              "wide.npz")
    # Frames of another length in seconds are refused.
    other = random_encoder_preset((3, 2), n_fft=1024, hop_length=256)
    other = other.with_sources([dataclasses.replace(s, name=n) for s, n in
                                zip(other.sources, names)])
    with pytest.raises(ParameterError, match="n_fft 1536 and hop_length 384 at sr 48000 or "
                                             "the same in seconds at a lower sr"):
        dataclasses.replace(wide, companion=other)
