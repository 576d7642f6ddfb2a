"""Saving and loading presets: round trips, the file's keys, accepted optional fields, properties
and NMF (Q = 1) sources."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers.preset_files import (
    HOP,
    N_FFT,
    SR,
    F,
    assert_valid,
    make_preset,
    members_of,
    pack,
    stochastic,
    unpack,
)
from livesep.errors import ParameterError
from livesep.presets import Preset, SourceModel, load, save

# --------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("states, components, model", [
    ((2, 1), (3, 2), "nhmm"),
    ((1, 1), (4, 2), "nmf"),
    ((1, 1), (4, 2), "nhmm"),
    ((3,), (1,), "nhmm"),
    ((1,) * 16, (1,) * 16, "nmf"),
])
def test_round_trip(tmp_path: Path, states: tuple[int, ...], components: tuple[int, ...],
                    model: str) -> None:
    names = ("voice", "noise") if len(states) == 2 else tuple(f"s{i}" for i in states)
    if len(states) == 16:
        names = tuple(f"source {i}" for i in range(16))
    original = make_preset(states=states, components=components, names=names[:len(states)],
                           model=model)
    path = save(original, tmp_path / "p.npz")
    assert path == tmp_path / "p.npz"
    loaded = load(path)
    assert loaded == original
    for field in ("name", "description", "sr", "n_fft", "hop_length", "window", "model",
                  "created", "livesep_version"):
        assert getattr(loaded, field) == getattr(original, field)
    assert loaded.source_names == original.source_names
    for got, want in zip(loaded.sources, original.sources):
        assert got.name == want.name
        assert got.adaptive == want.adaptive
        assert got.provenance == want.provenance
        for key in ("W", "A", "pi"):
            array = getattr(got, key)
            assert array.dtype == np.float32 and array.flags.c_contiguous
            assert not array.flags.writeable
            np.testing.assert_array_equal(array, getattr(want, key))
    assert_valid(loaded)


def test_round_trip_unicode_and_float64_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    voice = SourceModel("voix é 🎤", W=stochastic(rng, (2, F, 3), 1).astype(np.float64),
                        A=stochastic(rng, (2, 2), 1), pi=np.array([0.5, 0.5]),
                        provenance={"note": "naïve ✓", "nested": {"a": [1, 2, {"b": None}]},
                                    "numpy": np.float32(0.5), "int": np.int64(3),
                                    "path": Path("x/y.wav"), "array": np.arange(3)})
    original = Preset("préréglage", description="multi\nline ✓", sr=44100, n_fft=N_FFT,
                      hop_length=HOP, model="nhmm", sources=(voice,))
    assert voice.provenance == {"note": "naïve ✓", "nested": {"a": [1, 2, {"b": None}]},
                                "numpy": 0.5, "int": 3, "path": "x/y.wav", "array": [0, 1, 2]}
    loaded = load(save(original, tmp_path / "u.npz"))
    assert loaded == original
    assert loaded.sources[0].W.dtype == np.float32


def test_file_format_keys(saved: Path, preset: Preset) -> None:
    with zipfile.ZipFile(saved) as archive:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
    meta, arrays = unpack(saved)
    assert set(arrays) == {f"source{i}.{key}" for i in range(2) for key in ("W", "A", "pi")}
    assert meta == {
        "format": "livesep-preset", "version": 1, "name": "two",
        "description": "a test preset", "sr": SR, "n_fft": N_FFT, "hop_length": HOP,
        "window": "sqrt-hann", "model": "nhmm", "created": "2026-01-02T03:04:05+00:00",
        "livesep_version": "0.1.0",
        "sources": [{"name": s.name, "n_states": s.n_states, "n_components": s.n_components,
                     "adaptive": s.adaptive, "provenance": s.provenance}
                    for s in preset.sources],
    }
    assert arrays["source0.W"].shape == (2, F, 3)
    assert arrays["source0.A"].shape == (2, 2)
    assert arrays["source0.pi"].shape == (2,)
    assert arrays["source1.W"].shape == (1, F, 2)
    assert all(array.dtype == np.float32 for array in arrays.values())


def test_optional_source_fields_and_float64_arrays_accepted(tmp_path: Path,
                                                            saved: Path) -> None:
    meta, arrays = unpack(saved)
    for entry in meta["sources"]:
        del entry["adaptive"], entry["provenance"]
    arrays = {key: value.astype(np.float64) for key, value in arrays.items()}
    loaded = load(pack(tmp_path / "minimal.npz", members_of(meta, arrays)))
    assert [s.adaptive for s in loaded.sources] == [False, False]
    assert [s.provenance for s in loaded.sources] == [{}, {}]
    assert all(s.W.dtype == np.float32 for s in loaded.sources)


def test_stored_uncompressed_and_sums_within_tolerance_accepted(tmp_path: Path,
                                                                saved: Path) -> None:
    meta, arrays = unpack(saved)
    arrays["source0.W"][1, :, 2] *= 1 + 5e-4
    loaded = load(pack(tmp_path / "stored.npz", members_of(meta, arrays),
                       compression=zipfile.ZIP_STORED))
    assert_valid(loaded)


def test_properties(preset: Preset) -> None:
    voice, noise = preset.sources
    assert (voice.n_states, voice.n_bins, voice.n_components) == (2, F, 3)
    assert (noise.n_states, noise.n_bins, noise.n_components) == (1, F, 2)
    assert voice.n_parameters == 2 * F * 3 + 4 + 2
    assert voice.nbytes == 4 * voice.n_parameters
    assert preset.source_names == ("voice", "noise")
    assert preset.n_sources == 2
    assert preset.n_bins == F
    assert preset.n_parameters == voice.n_parameters + noise.n_parameters
    assert preset.nbytes == 4 * preset.n_parameters
    assert preset.source("noise") is noise
    with pytest.raises(ParameterError, match="no source 'drums'"):
        preset.source("drums")
    assert "voice" in repr(preset) and "2x3" in repr(preset)


# --------------------------------------------------------------------------- NMF (Q = 1)

def test_from_nmf(tmp_path: Path) -> None:
    W = stochastic(np.random.default_rng(1), (F, 5), 0)
    source = SourceModel.from_nmf("noise", W, provenance={"seed": 3})
    assert source.W.shape == (1, F, 5)
    np.testing.assert_array_equal(source.W[0], W.astype(np.float32))
    np.testing.assert_array_equal(source.A, [[1.0]])
    np.testing.assert_array_equal(source.pi, [1.0])
    assert (source.n_states, source.n_components, source.provenance) == (1, 5, {"seed": 3})
    original = Preset("nmf", sr=SR, n_fft=N_FFT, hop_length=HOP, model="nmf",
                      sources=(source, source.renamed("noise 2")))
    assert load(save(original, tmp_path / "nmf.npz")) == original
    with pytest.raises(ParameterError, match=r"\(n_bins, n_components\)"):
        SourceModel.from_nmf("noise", W[np.newaxis])
