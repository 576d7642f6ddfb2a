"""The SourceModel and Preset classes: constructor checks, immutability, defaults and
with_sources."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from helpers.preset_files import HOP, N_FFT, SR, F, make_preset, make_source, stochastic
from livesep.errors import ParameterError
from livesep.presets import Preset, SourceModel

# --------------------------------------------------------------------------- constructor checks

def _bad_w_sum() -> dict[str, Any]:
    W = stochastic(np.random.default_rng(0), (1, F, 2), 1)
    W[0, :, 1] *= 2
    return {"W": W, "A": [[1]], "pi": [1]}


@pytest.mark.parametrize("kwargs, needles", [
    (_bad_w_sum(), ["W", "W[0, :, 1]", "sums to 2"]),
    ({"W": np.ones((F, 2)) / F, "A": [[1]], "pi": [1]}, ["W", f"({F}, 2)"]),
    ({"W": np.ones((1, F, 2), complex) / F, "A": [[1]], "pi": [1]}, ["W", "complex128"]),
    ({"W": np.ones((1, F, 2)) / F, "A": [[0.5, 0.5]], "pi": [1]}, ["A", "(1, 2)"]),
    ({"W": np.ones((1, F, 2)) / F, "A": [[1]], "pi": [np.nan]}, ["pi", "nan"]),
    ({"W": np.ones((1, F, 2)) / F, "A": [[1]], "pi": [1], "adaptive": "yes"},
     ["adaptive", "'yes'"]),
    ({"W": np.ones((1, F, 2)) / F, "A": [[1]], "pi": [1], "provenance": [1]},
     ["provenance", "[1]"]),
    ({"W": np.ones((1, F, 2)) / F, "A": [[1]], "pi": [1], "provenance": {"x": float("nan")}},
     ["provenance", "JSON"]),
    ({"W": np.ones((1, F, 2)) / F, "A": [[1]], "pi": [1], "provenance": {"x": object()}},
     ["provenance", "object"]),
    ({"W": np.ones((1, F, 2)) / F, "A": [[1]], "pi": [1], "provenance": {1: "x"}},
     ["provenance", "strings"]),
])
def test_source_model_rejects(kwargs: dict[str, Any], needles: list[str]) -> None:
    with pytest.raises(ParameterError) as caught:
        SourceModel("voice", **kwargs)
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)


@pytest.mark.parametrize("name", ["", "   ", "a/b", "..", "a\\b", " lead", "x\x00y",
                                  "x" * 101, 5])
def test_source_model_rejects_unsafe_names(name: Any) -> None:
    with pytest.raises(ParameterError, match="name"):
        SourceModel(name, W=np.ones((1, F, 1)) / F, A=[[1]], pi=[1])


def test_source_model_is_immutable_and_detached() -> None:
    W = np.ones((1, F, 2)) / F
    source = SourceModel("x", W=W, A=[[1]], pi=[1])
    W[0, 0, 0] = 5.0
    assert source.W[0, 0, 0] == np.float32(1 / F)
    with pytest.raises(ValueError):
        source.W[0, 0, 0] = 1.0
    with pytest.raises(AttributeError):
        source.name = "y"  # type: ignore[misc]


@pytest.mark.parametrize("change, needles", [
    ({"sr": 500}, ["sr", "500"]),
    ({"sr": 16000.0}, ["sr", "16000.0"]),
    ({"n_fft": 60}, ["n_fft", "60"]),
    ({"hop_length": 24}, ["hop_length", "24"]),
    ({"window": "hann"}, ["window", "'hann'"]),
    ({"model": "cnn"}, ["model", "'cnn'"]),
    ({"model": "nmf"}, ["sources[0]", "2 states", "nmf"]),
    ({"created": "yesterday"}, ["created", "'yesterday'"]),
    ({"name": ""}, ["name", "''"]),
    ({"sources": ()}, ["sources", "got 0"]),
    ({"sources": "voice"}, ["sources", "'voice'"]),
    ({"sources": (make_source("a", 1, 1), 3)}, ["sources[1]", "3"]),
    ({"sources": (make_source("a", 1, 1), make_source("A", 1, 1))},
     ["sources[1].name", "'A'", "duplicates"]),
    ({"sources": (make_source("a", 1, 1, n_bins=F + 1),)}, ["sources[0]", str(F + 1), "bins"]),
    ({"sources": tuple(make_source(f"s{i}", 1, 1) for i in range(17))}, ["sources", "got 17"]),
])
def test_preset_rejects(change: dict[str, Any], needles: list[str]) -> None:
    settings: dict[str, Any] = {"sr": SR, "n_fft": N_FFT, "hop_length": HOP, "model": "nhmm",
                                "sources": make_preset().sources}
    settings.update(change)
    name = settings.pop("name", "p")
    with pytest.raises(ParameterError) as caught:
        Preset(name, **settings)
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)


def test_preset_defaults() -> None:
    preset = Preset("p", sr=SR, n_fft=N_FFT, hop_length=HOP, model="nmf",
                    sources=[make_source("a", 1, 1)])
    assert preset.window == "sqrt-hann" and preset.description == ""
    assert isinstance(preset.sources, tuple)
    assert preset.livesep_version == __import__("livesep").__version__
    assert preset.created[:4].isdigit() and "T" in preset.created


# --------------------------------------------------------------------------- with_sources

def test_with_sources(preset: Preset) -> None:
    nmf = make_preset(states=(1, 1), model="nmf")
    assert nmf.with_sources(nmf.sources[:1]).model == "nmf"
    grown = nmf.with_sources([*nmf.sources, make_source("drums", 3, 2)], name="grown",
                             description="more")
    assert grown.model == "nhmm" and grown.name == "grown" and grown.description == "more"
    assert (grown.sr, grown.n_fft, grown.hop_length) == (nmf.sr, nmf.n_fft, nmf.hop_length)
    with pytest.raises(ParameterError, match="bins"):
        preset.with_sources([make_source("x", 1, 1, n_bins=F + 2)])
