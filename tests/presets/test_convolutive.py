"""Convolutive (NMFD) sources: round trip, from_nmfd, constructor checks, combining, load_meta,
describe and rejection of bad convolutive entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers.preset_files import (
    HOP,
    N_FFT,
    SR,
    F,
    Mutation,
    assert_valid,
    change_array,
    delete_meta,
    lagged,
    make_convolutive_preset,
    make_source,
    members_of,
    pack,
    put,
    rejected,
    set_meta,
    stochastic,
    unpack,
    write_case,
)
from livesep.errors import ParameterError
from livesep.presets import Preset, SourceModel, combine, describe, load, load_meta, save


@pytest.mark.parametrize("frames", [2, 3, 64])
def test_convolutive_round_trip(tmp_path: Path, frames: int) -> None:
    original = make_convolutive_preset(frames=frames)
    path = save(original, tmp_path / "conv.npz")
    loaded = load(path)
    assert loaded == original
    voice, drums = loaded.sources
    assert (voice.frames, drums.frames) == (1, frames)
    assert (drums.n_states, drums.n_bins, drums.n_components) == (1, F, 2)
    np.testing.assert_array_equal(drums.W, original.sources[1].W)
    assert drums.W.dtype == np.float32 and not drums.W.flags.writeable
    assert_valid(loaded)
    meta, arrays = unpack(path)
    assert "frames" not in meta["sources"][0]  # written for convolutive sources only
    assert meta["sources"][1]["frames"] == frames and meta["sources"][1]["n_states"] == 1
    assert arrays["source1.W"].shape == (frames, F, 2)
    assert arrays["source1.A"].shape == (1, 1) and arrays["source1.pi"].shape == (1,)


def test_from_nmfd(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    W = lagged(rng, 4, 5)
    source = SourceModel.from_nmfd("drums", W, provenance={"seed": 3})
    assert (source.frames, source.n_states, source.n_bins, source.n_components) == (4, 1, F, 5)
    np.testing.assert_array_equal(source.W, W.astype(np.float32))
    np.testing.assert_array_equal(source.A, [[1.0]])
    np.testing.assert_array_equal(source.pi, [1.0])
    assert not source.adaptive and source.provenance == {"seed": 3}
    assert source.n_parameters == 4 * F * 5 + 2 and source.nbytes == 4 * source.n_parameters
    assert "frames=4" in repr(source)
    assert source.renamed("kit").frames == 4
    # Same arrays as three states would need another A; and the frames are part of equality.
    assert source != SourceModel("drums", W=W / W.sum(axis=1, keepdims=True),
                                 A=np.eye(4), pi=np.full(4, 0.25), provenance={"seed": 3})
    # One frame is plain NMF.
    single = SourceModel.from_nmfd("noise", lagged(rng, 1, 2))
    assert single.frames == 1 and single == SourceModel.from_nmf("noise", single.W[0])
    with pytest.raises(ParameterError, match=r"\(frames, n_bins, n_components\)"):
        SourceModel.from_nmfd("drums", W[0])
    with pytest.raises(ParameterError, match=r"frames must be in \[1, 64\], got 65"):
        SourceModel.from_nmfd("drums", lagged(rng, 65, 1))
    preset = Preset("nmfd", sr=SR, n_fft=N_FFT, hop_length=HOP, model="nmf",
                    sources=(source, single))
    assert load(save(preset, tmp_path / "nmfd.npz")) == preset


def _per_lag_columns() -> np.ndarray:
    """W (2, F, 2) whose every column W[l, :, k] sums to 1: each template sums to 2, not 1."""
    return stochastic(np.random.default_rng(0), (2, F, 2), 1)


@pytest.mark.parametrize("kwargs, needles", [
    ({"frames": 0}, ["frames", "[1, 64]", "got 0"]),
    ({"frames": 65}, ["frames", "got 65"]),
    ({"frames": "2"}, ["frames", "'2'", "str"]),
    ({"frames": 2.0}, ["frames", "2.0", "float"]),
    ({"frames": True}, ["frames", "True", "bool"]),
    ({"frames": 3}, ["W", "frames = 3", "(2, 33, 2)"]),
    ({"A": np.eye(2), "pi": [0.5, 0.5]}, ["A", "(1, 1)", "(2, 2)"]),
    ({"pi": [0.5, 0.5]}, ["pi", "(1,)", "(2,)"]),
    ({"W": _per_lag_columns()}, ["W", "template W[:, :, ", "over lags and bins", "sums to 2"]),
    ({"adaptive": True}, ["frames", "adaptive"]),
])
def test_convolutive_source_rejects(kwargs: dict[str, Any], needles: list[str]) -> None:
    settings: dict[str, Any] = {"W": lagged(np.random.default_rng(1), 2, 2), "A": [[1.0]],
                                "pi": [1.0], "frames": 2}
    settings.update(kwargs)
    with pytest.raises(ParameterError) as caught:
        SourceModel("drums", **settings)
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)


def test_convolutive_sources_have_one_state_for_the_model_and_combine() -> None:
    preset = make_convolutive_preset()
    drums = preset.source("drums")
    noise = make_source("noise", 1, 2)
    nmf = Preset("nmf", sr=SR, n_fft=N_FFT, hop_length=HOP, model="nmf", sources=(drums, noise))
    assert nmf.n_parameters == drums.n_parameters + noise.n_parameters
    assert nmf.nbytes == 4 * nmf.n_parameters
    assert "'drums': 1x2 (3 frames)" in repr(nmf)
    assert combine((preset, "drums"), (nmf, "noise"), name="c").model == "nmf"
    mixed = combine(preset, (nmf, "noise"), name="three")
    assert mixed.model == "nhmm" and mixed.source("drums") == drums
    assert nmf.with_sources([drums]).model == "nmf"


def test_convolutive_load_meta_and_describe(convolutive_saved: Path) -> None:
    preset = load(convolutive_saved)
    info = load_meta(convolutive_saved)
    assert [s.frames for s in info.sources] == [1, 3]
    assert [s.n_states for s in info.sources] == [2, 1]
    for got, want in zip(info.sources, preset.sources):
        assert got.n_parameters == want.n_parameters and got.nbytes == want.nbytes
    assert info.n_parameters == preset.n_parameters
    text = describe(preset)
    assert "- drums: convolutive, 3 frames x 2 components" in text, text
    assert "- voice: 2 states x 3 components" in text
    assert "convolutive, 3 frames x 2 components" in describe(info)


def test_explicit_frames_one_is_an_ordinary_source(tmp_path: Path, saved: Path,
                                                   preset: Preset) -> None:
    meta, arrays = unpack(saved)
    for entry in meta["sources"]:
        entry["frames"] = 1
    assert load(pack(tmp_path / "ones.npz", members_of(meta, arrays))) == preset


def _lag_columns(w: np.ndarray) -> np.ndarray:
    return w / w.sum(axis=1, keepdims=True)


# Every case is caught by load; those marked header=True by load_meta too.
CONVOLUTIVE_CASES = [
    pytest.param(set_meta("sources.1.frames", 0), ["sources[1].frames", "0"], True,
                 id="frames-zero"),
    pytest.param(set_meta("sources.1.frames", 65), ["sources[1].frames", "[1, 64]", "65"], True,
                 id="frames-too-many"),
    pytest.param(set_meta("sources.1.frames", "3"), ["sources[1].frames", "'3'", "str"], True,
                 id="frames-str"),
    pytest.param(set_meta("sources.1.frames", 3.0), ["sources[1].frames", "3.0", "float"], True,
                 id="frames-float"),
    pytest.param(set_meta("sources.1.frames", None), ["sources[1].frames", "None"], True,
                 id="frames-null"),
    pytest.param(set_meta("sources.0.frames", 3), ["sources[0].frames", "2 states", "one state"],
                 True, id="frames-with-states"),
    pytest.param(set_meta("sources.1.adaptive", True), ["sources[1].frames", "adaptive"], True,
                 id="frames-adaptive"),
    pytest.param(set_meta("sources.1.frames", 4), ["source1.W", "(3, 33, 2)", "(4, 33, 2)",
                                               "frames"], True, id="frames-vs-W"),
    pytest.param(delete_meta("sources.1.frames"), ["source1.W", "(3, 33, 2)", "(1, 33, 2)",
                                               "n_states"], True, id="frames-left-out"),
    pytest.param(change_array("source1.A", lambda a: np.full((3, 3), 1 / 3, a.dtype)),
                 ["source1.A", "(3, 3)", "(1, 1)"], True, id="A-per-lag"),
    pytest.param(change_array("source1.W", _lag_columns),
                 ["source1.W", "template W[:, :, ", "sums to 3"], False,
                 id="W-columns-normalised-per-lag"),
    pytest.param(change_array("source1.W", lambda w: put(w, (2, 5, 1), -0.1)),
                 ["source1.W", "negative", "(2, 5, 1)"], False, id="W-negative"),
]


@pytest.mark.parametrize("mutate, needles, header", CONVOLUTIVE_CASES)
def test_load_rejects_bad_convolutive_sources(tmp_path: Path, convolutive_saved: Path,
                                              mutate: Mutation, needles: list[str],
                                              header: bool) -> None:
    path = write_case(tmp_path, convolutive_saved, mutate)
    message = rejected(path, *needles)
    if header:
        assert rejected(path, loader=load_meta) == message
    else:
        assert load_meta(path).sources[1].frames == 3
