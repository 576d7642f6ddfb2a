"""Unfolded (deep NMF) sources: round trip in format version 2, version 1 for every other
preset, from_unfolded, constructor and preset checks, combining, load_meta, describe and
rejection of bad unfolded entries."""

from __future__ import annotations

from collections.abc import Callable
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
    make_convolutive_preset,
    make_preset,
    make_source,
    make_unfolded_preset,
    members_of,
    pack,
    rejected,
    set_meta,
    stochastic,
    unpack,
    write_case,
)
from livesep.errors import ParameterError, PresetError
from livesep.presets import (
    FORMAT_VERSIONS,
    Preset,
    SourceModel,
    combine,
    describe,
    load,
    load_meta,
    save,
)


@pytest.fixture
def unfolded_saved(tmp_path: Path) -> Path:
    return save(make_unfolded_preset(), tmp_path / "deep.npz")


def layered(layers: int, n_components: int, seed: int = 0) -> np.ndarray:
    """W (layers + 1, F, K) whose every column sums to 1."""
    return stochastic(np.random.default_rng(seed), (layers + 1, F, n_components), 1)


@pytest.mark.parametrize("layers", [1, 3, 64])
def test_unfolded_round_trip_writes_version_2(tmp_path: Path, layers: int) -> None:
    original = make_unfolded_preset(layers=layers)
    path = save(original, tmp_path / "deep.npz")
    loaded = load(path)
    assert loaded == original
    assert_valid(loaded)
    for source in loaded.sources:
        assert (source.layers, source.n_states, source.frames) == (layers, 1, 1)
        assert source.W.shape == (layers + 1, F, source.n_components)
        assert source.W.dtype == np.float32 and not source.W.flags.writeable
    meta, arrays = unpack(path)
    assert meta["version"] == 2 == FORMAT_VERSIONS[1]
    assert [entry["layers"] for entry in meta["sources"]] == [layers, layers]
    assert [entry["n_states"] for entry in meta["sources"]] == [1, 1]
    assert "frames" not in meta["sources"][0]
    assert arrays["source0.W"].shape == (layers + 1, F, 3)
    assert arrays["source1.A"].shape == (1, 1) and arrays["source1.pi"].shape == (1,)


@pytest.mark.parametrize("make", [
    make_preset, make_convolutive_preset,
    lambda: make_preset(states=(1, 1), model="nmf"),
], ids=["nhmm-adaptive", "convolutive", "nmf"])
def test_other_presets_are_still_written_as_version_1(tmp_path: Path,
                                                       make: Callable[[], Preset]) -> None:
    original = make()
    path = save(original, tmp_path / "old.npz")
    meta, _ = unpack(path)
    assert meta["version"] == 1
    assert all("layers" not in entry for entry in meta["sources"])
    assert load(path) == original


def test_explicit_layers_zero_in_version_2_is_an_ordinary_source(tmp_path: Path,
                                                                 saved: Path,
                                                                 preset: Preset) -> None:
    meta, arrays = unpack(saved)
    meta["version"] = 2
    for entry in meta["sources"]:
        entry["layers"] = 0
    assert load(pack(tmp_path / "zeros.npz", members_of(meta, arrays))) == preset


def test_from_unfolded() -> None:
    W = layered(3, 5)
    source = SourceModel.from_unfolded("voice", W, provenance={"epochs": 4})
    assert (source.layers, source.n_states, source.frames) == (3, 1, 1)
    assert (source.n_bins, source.n_components) == (F, 5)
    np.testing.assert_array_equal(source.W, W.astype(np.float32))
    np.testing.assert_array_equal(source.A, [[1.0]])
    np.testing.assert_array_equal(source.pi, [1.0])
    assert not source.adaptive and source.provenance == {"epochs": 4}
    assert source.n_parameters == 4 * F * 5 + 2 and source.nbytes == 4 * source.n_parameters
    assert "unfolded, 3 layers" in repr(source)
    assert source.renamed("speech").layers == 3
    # The layers are part of equality: the same arrays as four states would need another A.
    assert source != SourceModel("voice", W=W, A=np.eye(4), pi=np.full(4, 0.25),
                                 provenance={"epochs": 4})
    for bad in (W[0], W[:1], W[None]):
        with pytest.raises(ParameterError, match=r"\(layers \+ 1, n_bins, n_components\)"):
            SourceModel.from_unfolded("voice", bad)
    with pytest.raises(ParameterError, match=r"layers must be in \[0, 64\], got 65"):
        SourceModel.from_unfolded("voice", layered(65, 1))


@pytest.mark.parametrize("kwargs, needles", [
    ({"layers": -1}, ["layers", "[0, 64]", "got -1"]),
    ({"layers": 65}, ["layers", "[0, 64]", "got 65"]),
    ({"layers": "2"}, ["layers", "'2'", "str"]),
    ({"layers": 2.0}, ["layers", "2.0", "float"]),
    ({"layers": True}, ["layers", "True", "bool"]),
    ({"layers": 3}, ["W", "layers = 3", "(3, 33, 2)"]),
    ({"A": np.eye(3), "pi": np.full(3, 1 / 3)},
     ["A", "unfolded source's one state", "(3, 3)"]),
    ({"pi": [0.5, 0.5]}, ["pi", "(1,)", "(2,)"]),
    ({"frames": 3}, ["layers is 2", "3 frames", "one frame"]),
    ({"adaptive": True}, ["layers is 2", "adaptive"]),
    ({"W": layered(2, 2) * np.array([1.0, 1.5, 1.0])[:, None, None]},
     ["W", "column W[1, :, ", "(layer 1, component ", "sums to 1.5"]),
])
def test_unfolded_source_rejects(kwargs: dict[str, Any], needles: list[str]) -> None:
    settings: dict[str, Any] = {"W": layered(2, 2), "A": [[1.0]], "pi": [1.0], "layers": 2}
    settings.update(kwargs)
    with pytest.raises(ParameterError) as caught:
        SourceModel("voice", **settings)
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)


def test_an_unfolded_estimate_keeps_the_scale_it_was_trained_with(tmp_path: Path) -> None:
    # The last block makes the estimate from the fitted activations; only the layers' columns
    # are distributions. A full-band estimate from a fit on fewer bins has larger columns.
    W, noise = layered(2, 3), layered(2, 2, seed=1)
    for dictionary in (W, noise):
        dictionary[:-1, F // 2:] = 0.0
        dictionary[:-1] /= dictionary[:-1].sum(axis=1, keepdims=True)
    W[-1] *= np.array([0.5, 2.0, 7.0])
    preset = _preset(SourceModel.from_unfolded("voice", W),
                     SourceModel.from_unfolded("noise", noise))
    loaded = load(save(preset, tmp_path / "scaled.npz"))
    np.testing.assert_array_equal(loaded.source("voice").W, W.astype(np.float32))
    assert_valid(loaded)
    top = (F // 2 - 1) * SR / N_FFT
    assert loaded.fitted_bins == F // 2
    assert f"fitted on the {F // 2} bins up to {top:g} Hz; its estimates cover all {F}" \
        in describe(loaded)
    assert "fitted on" not in describe(make_unfolded_preset())


def _preset(*sources: SourceModel, model: str = "nmf") -> Preset:
    return Preset("p", sr=SR, n_fft=N_FFT, hop_length=HOP, model=model, sources=sources)


def test_a_preset_is_all_unfolded_with_the_same_layers_or_none() -> None:
    voice = SourceModel.from_unfolded("voice", layered(3, 2))
    with pytest.raises(ParameterError, match=r"sources\[1\].layers is 0 but sources\[0\]"
                                             r".layers is 3: unfolded sources are trained"):
        _preset(voice, make_source("noise", 1, 2))
    with pytest.raises(ParameterError, match=r"sources\[1\].layers is 3 but sources\[0\]"
                                             r".layers is 0"):
        _preset(make_source("noise", 1, 2), voice)
    with pytest.raises(ParameterError, match=r"sources\[1\].layers is 2 but"):
        _preset(voice, SourceModel.from_unfolded("noise", layered(2, 2)))
    with pytest.raises(ParameterError, match="model is 'nhmm' but the sources are unfolded"):
        _preset(voice, model="nhmm")
    preset = _preset(voice, SourceModel.from_unfolded("noise", layered(3, 4, seed=1)))
    assert preset.n_parameters == sum(s.n_parameters for s in preset.sources)
    assert "'voice': 1x2 (unfolded, 3 layers)" in repr(preset)
    nhmm = make_preset()
    assert nhmm.model == "nhmm" and nhmm.with_sources(preset.sources).model == "nmf"


def test_combine_keeps_unfolded_sources_with_their_own_preset() -> None:
    deep = make_unfolded_preset()
    again = make_unfolded_preset()  # equal, as a preset loaded twice is
    assert combine((deep, ["noise", "voice"]), name="swapped").source_names == ("noise", "voice")
    assert combine((deep, "voice"), (again, "noise"), name="same").model == "nmf"
    other = make_unfolded_preset(seed=1)
    with pytest.raises(PresetError, match="cannot combine source 'noise' of preset 'deep' "
                                          r"\(3 layers\) with unfolded source 'voice'.*trained "
                                          "together.*their own preset"):
        combine((deep, "voice"), (other, "noise"), name="mixed")
    nhmm = Preset("two", sr=SR, n_fft=N_FFT, hop_length=HOP, model="nhmm",
                  sources=(make_source("speech", 2, 3), make_source("hum", 1, 2)))
    with pytest.raises(PresetError, match=r"source 'hum' of preset 'two' \(not unfolded\) "
                                          r"with unfolded source 'voice'.*trained together"):
        combine((nhmm, "hum"), (deep, "voice"), name="mixed")
    with pytest.raises(PresetError, match=r"\(3 layers\).*\(3 layers\).*trained together"):
        combine(deep, (other.with_sources([other.source("noise").renamed("hiss")]), "hiss"),
                name="mixed")


def test_unfolded_load_meta_and_describe(unfolded_saved: Path) -> None:
    preset = load(unfolded_saved)
    info = load_meta(unfolded_saved)
    assert [s.layers for s in info.sources] == [3, 3]
    assert [(s.n_states, s.frames) for s in info.sources] == [(1, 1), (1, 1)]
    for got, want in zip(info.sources, preset.sources):
        assert got.n_parameters == want.n_parameters and got.nbytes == want.nbytes
    assert info.n_parameters == preset.n_parameters and info.nbytes == preset.nbytes
    text = describe(preset)
    assert "- voice: unfolded, 3 layers x 3 components" in text, text
    assert "- noise: unfolded, 3 layers x 2 components" in text
    assert "unfolded, 3 layers x 3 components" in describe(info)
    assert "unfolded, 3 layers x 3 components" in describe(unfolded_saved)


def _all_layers(layers: int) -> Mutation:
    def mutate(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        for entry in meta["sources"]:
            entry["layers"] = layers
    return mutate


def _columns_off(w: np.ndarray) -> np.ndarray:
    w[1, :, 1] *= 1.5
    return w


# Every case is caught by load; those marked header=True by load_meta too.
UNFOLDED_CASES = [
    pytest.param(set_meta("sources.0.layers", -1), ["sources[0].layers", "[0, 64]", "-1"],
                 True, id="layers-negative"),
    pytest.param(set_meta("sources.0.layers", 65), ["sources[0].layers", "[0, 64]", "65"],
                 True, id="layers-too-many"),
    pytest.param(set_meta("sources.0.layers", "3"), ["sources[0].layers", "'3'", "str"], True,
                 id="layers-str"),
    pytest.param(set_meta("sources.0.layers", 3.0), ["sources[0].layers", "3.0", "float"],
                 True, id="layers-float"),
    pytest.param(set_meta("sources.0.layers", None), ["sources[0].layers", "None"], True,
                 id="layers-null"),
    pytest.param(set_meta("sources.0.n_states", 2), ["sources[0].layers is 3", "2 states",
                                                    "one state"], True, id="layers-with-states"),
    pytest.param(set_meta("sources.0.frames", 2), ["sources[0].layers is 3", "2 frames",
                                                  "one frame"], True, id="layers-with-frames"),
    pytest.param(set_meta("sources.1.adaptive", True), ["sources[1].layers is 3", "adaptive"],
                 True, id="layers-adaptive"),
    pytest.param(set_meta("sources.1.layers", 2), ["sources[1].layers is 2",
                                                  "sources[0].layers is 3", "trained together"],
                 True, id="layers-differ"),
    pytest.param(delete_meta("sources.1.layers"), ["sources[1].layers is 0",
                                                  "sources[0].layers is 3", "trained together"],
                 True, id="mixed-with-ordinary"),
    pytest.param(set_meta("model", "nhmm"), ["model is 'nhmm'", "unfolded"], True,
                 id="model-nhmm"),
    pytest.param(set_meta("version", 1), ["sources[0].layers (3)", "version 1",
                                         "came with version 2"], True, id="version-1"),
    pytest.param(set_meta("version", 8), ["version 8", "reads versions 1, 2, 3, 4, 5, 6 and 7",
                                         "upgrade livesep"], True, id="version-8"),
    pytest.param(_all_layers(4), ["source0.W", "(4, 33, 3)", "(5, 33, 3)", "layers + 1"],
                 True, id="layers-vs-W"),
    pytest.param(change_array("source0.W", lambda w: w[:3]),
                 ["source0.W", "(3, 33, 3)", "(4, 33, 3)", "layers + 1"], True,
                 id="W-too-few-blocks"),
    pytest.param(change_array("source1.A", lambda a: np.full((2, 2), 0.5, a.dtype)),
                 ["source1.A", "(2, 2)", "(1, 1)"], True, id="A-per-layer"),
    pytest.param(change_array("source0.W", _columns_off),
                 ["source0.W", "column W[1, :, 1] (layer 1, component 1)", "sums to 1.5"],
                 False, id="W-layer-column-sum"),
]


@pytest.mark.parametrize("mutate, needles, header", UNFOLDED_CASES)
def test_load_rejects_bad_unfolded_sources(tmp_path: Path, unfolded_saved: Path,
                                           mutate: Mutation, needles: list[str],
                                           header: bool) -> None:
    path = write_case(tmp_path, unfolded_saved, mutate)
    message = rejected(path, *needles)
    if header:
        assert rejected(path, loader=load_meta) == message
    else:
        assert load_meta(path).sources[0].layers == 3


def test_a_version_1_file_may_not_hold_layers_even_zero(tmp_path: Path, saved: Path) -> None:
    path = write_case(tmp_path, saved, set_meta("sources.1.layers", 0))
    rejected(path, "sources[1].layers (0)", "not a field of version 1 files")
