"""Tests of livesep.presets: the preset model classes and the ``livesep-preset`` file format."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import stat
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livesep.errors import ParameterError, PresetError
from livesep.presets import (
    Preset,
    PresetInfo,
    SourceModel,
    combine,
    describe,
    load,
    load_meta,
    save,
)

# --------------------------------------------------------------------------- helpers

N_FFT, HOP, SR = 64, 16, 16000
F = N_FFT // 2 + 1


def stochastic(rng: np.random.Generator, shape: tuple[int, ...], axis: int) -> np.ndarray:
    x = rng.random(shape) + 0.01
    return x / x.sum(axis=axis, keepdims=True)


def make_source(name: str, n_states: int, n_components: int, *, seed: int = 0,
                n_bins: int = F, adaptive: bool = False,
                provenance: dict[str, Any] | None = None) -> SourceModel:
    rng = np.random.default_rng(seed)
    return SourceModel(name, W=stochastic(rng, (n_states, n_bins, n_components), 1),
                       A=stochastic(rng, (n_states, n_states), 1),
                       pi=stochastic(rng, (n_states,), 0), adaptive=adaptive,
                       provenance=provenance or {})


def make_preset(*, name: str = "two", sr: int = SR, n_fft: int = N_FFT, hop_length: int = HOP,
                states: tuple[int, ...] = (2, 1), components: tuple[int, ...] = (3, 2),
                names: tuple[str, ...] = ("voice", "noise"), model: str | None = None,
                seed: int = 0) -> Preset:
    sources = tuple(
        make_source(source_name, q, k, seed=seed + i, n_bins=n_fft // 2 + 1,
                    adaptive=(i == 1),
                    provenance={"files": [f"{source_name}/{j}.wav" for j in range(5)],
                                "seconds": 12.5, "iterations": 100, "seed": seed + i,
                                "log_likelihood": -1234.5,
                                "settings": {"beta": 1, "l1": 0.1}})
        for i, (source_name, q, k) in enumerate(zip(names, states, components)))
    if model is None:
        model = "nmf" if all(q == 1 for q in states) else "nhmm"
    return Preset(name, description="a test preset", sr=sr, n_fft=n_fft,
                  hop_length=hop_length, model=model, sources=sources,
                  created="2026-01-02T03:04:05+00:00", livesep_version="0.1.0")


def npy(value: Any) -> bytes:
    """The ``.npy`` bytes numpy writes for ``value`` (pickling object arrays)."""
    stream = io.BytesIO()
    np.lib.format.write_array(stream, np.asanyarray(value), allow_pickle=True)
    return stream.getvalue()


def npy_claiming(shape: tuple[int, ...], descr: str = "<f4", payload: bytes = b"") -> bytes:
    """A ``.npy`` whose header declares ``shape`` but which holds only ``payload``."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        stream, {"descr": descr, "fortran_order": False, "shape": shape})
    return stream.getvalue() + payload


def members_of(meta: Any, arrays: dict[str, Any]) -> dict[str, bytes]:
    members = {"meta.npy": npy(np.array(meta if isinstance(meta, str) else json.dumps(meta)))}
    members.update({f"{key}.npy": npy(value) for key, value in arrays.items()})
    return members


def pack(path: Path, members: dict[str, bytes], *,
         compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


def unpack(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The meta dict and the arrays of a saved preset, read independently of livesep."""
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"][()]))
        arrays = {key: archive[key] for key in archive.files if key != "meta"}
    return meta, arrays


def assert_valid(preset: Preset) -> None:
    """Check a loaded preset's invariants independently of livesep's own checks."""
    assert isinstance(preset, Preset)
    assert 1 <= len(preset.sources) <= 16
    assert 1000 <= preset.sr <= 384000
    assert preset.n_fft % preset.hop_length == 0
    assert len({s.name.casefold() for s in preset.sources}) == len(preset.sources)
    for source in preset.sources:
        convolutive = source.frames > 1  # W (frames, F, K), one state
        q = 1 if convolutive else source.W.shape[0]
        assert source.W.dtype == source.A.dtype == source.pi.dtype == np.float32
        assert source.W.ndim == 3 and source.W.shape[1] == preset.n_fft // 2 + 1
        assert source.A.shape == (q, q) and source.pi.shape == (q,)
        for array in (source.W, source.A, source.pi):
            assert np.all(np.isfinite(array)) and np.all(array >= 0)
        np.testing.assert_allclose(source.W.sum(axis=(0, 1) if convolutive else 1,
                                                dtype=np.float64), 1, atol=1.01e-3)
        np.testing.assert_allclose(source.A.sum(axis=1, dtype=np.float64), 1, atol=1.01e-3)
        np.testing.assert_allclose(source.pi.sum(dtype=np.float64), 1, atol=1.01e-3)


def rejected(path: Path, *needles: str, loader: Callable[[Path], object] = load) -> str:
    """Load ``path``, expect PresetError naming the file and every needle; return message."""
    with pytest.raises(PresetError) as caught:
        loader(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


class _Hang(BaseException):
    """Raised by the alarm; a BaseException so no ``except Exception`` can swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise _Hang(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def preset() -> Preset:
    return make_preset()


@pytest.fixture
def saved(tmp_path: Path, preset: Preset) -> Path:
    return save(preset, tmp_path / "saved.npz")


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


# --------------------------------------------------------------------------- combining

def test_combine_takes_named_sources(preset: Preset) -> None:
    other = make_preset(name="shipped", names=("speech", "room noise"), seed=7)
    mixed = combine((preset, "voice"), (other, ["room noise"]), name="mine")
    assert mixed.source_names == ("voice", "room noise")
    assert mixed.sources[0] == preset.sources[0]
    assert mixed.sources[1] == other.sources[1]
    assert (mixed.sr, mixed.n_fft, mixed.hop_length) == (SR, N_FFT, HOP)
    assert mixed.model == "nhmm"
    assert "voice from 'two'" in mixed.description
    assert "room noise from 'shipped'" in mixed.description
    only_nmf = combine((preset, "noise"), name="noise only", description="")
    assert only_nmf.model == "nmf" and only_nmf.description == ""
    whole = combine(preset, (other, "speech"), name="three")
    assert whole.source_names == ("voice", "noise", "speech")


@pytest.mark.parametrize("change, field, values", [
    ({"sr": 22050}, "sr", ("16000", "22050")),
    ({"hop_length": 32}, "hop_length", ("16", "32")),
    ({"n_fft": 128, "hop_length": 32}, "n_fft", ("64", "128")),
])
def test_combine_rejects_mismatched_settings(preset: Preset, change: dict[str, int],
                                             field: str, values: tuple[str, str]) -> None:
    other = make_preset(name="other", names=("drums", "bass"), **change)
    with pytest.raises(PresetError) as caught:
        combine((preset, "voice"), (other, "bass"), name="x")
    message = str(caught.value)
    for needle in (field, *values, "'two'", "'other'"):
        assert needle in message, message


def test_combine_rejects_duplicate_names_until_renamed(preset: Preset) -> None:
    other = make_preset(name="other", names=("Voice", "bass"), seed=3)
    with pytest.raises(PresetError, match="'Voice'.*'voice'"):
        combine((preset, "voice"), (other, "Voice"), name="x")
    renamed = other.with_sources([other.source("Voice").renamed("their voice")])
    mixed = combine((preset, "voice"), (renamed, "their voice"), name="x")
    assert mixed.source_names == ("voice", "their voice")


def test_combine_rejects_bad_parts(preset: Preset) -> None:
    with pytest.raises(ParameterError, match="no source 'drums'"):
        combine((preset, "drums"), name="x")
    with pytest.raises(ParameterError):
        combine("preset.npz", name="x")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        combine(name="x")


def test_with_sources(preset: Preset) -> None:
    nmf = make_preset(states=(1, 1), model="nmf")
    assert nmf.with_sources(nmf.sources[:1]).model == "nmf"
    grown = nmf.with_sources([*nmf.sources, make_source("drums", 3, 2)], name="grown",
                             description="more")
    assert grown.model == "nhmm" and grown.name == "grown" and grown.description == "more"
    assert (grown.sr, grown.n_fft, grown.hop_length) == (nmf.sr, nmf.n_fft, nmf.hop_length)
    with pytest.raises(ParameterError, match="bins"):
        preset.with_sources([make_source("x", 1, 1, n_bins=F + 2)])


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


# --------------------------------------------------------------------------- rejections

Mutation = Callable[[dict[str, Any], dict[str, np.ndarray]], "dict[str, bytes | None] | None"]


def _set(path: str, value: Any) -> Mutation:
    """Set ``meta[a][b]...`` (path "a.b", list indices as numbers) to ``value``."""
    def mutate(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = meta
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


def _delete(path: str) -> Mutation:
    def mutate(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = meta
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


def _array(key: str, change: Callable[[np.ndarray], np.ndarray]) -> Mutation:
    def mutate(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        arrays[key] = change(arrays[key].copy())
    return mutate


def _members(**members: bytes | None) -> Mutation:
    """Replace (or with None remove) raw zip members, named with '.npy' etc. as given."""
    def mutate(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, bytes | None]:
        return {name.replace("__", "."): value for name, value in members.items()}
    return mutate


def _put(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    array[index] = value
    return array


def _scale_column(array: np.ndarray) -> np.ndarray:
    array[1, :, 2] *= 1.5
    return array


def _seventeen(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    meta["sources"] = [dict(meta["sources"][1], name=f"s{i}") for i in range(17)]


def _third_source(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    meta["sources"].append(dict(meta["sources"][1], name="drums"))


def _fewer_sources(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    meta["sources"] = meta["sources"][:1]


def _total_too_large(meta: dict[str, Any], arrays: dict[str, np.ndarray]
                     ) -> dict[str, bytes | None]:
    meta["sources"][0]["n_components"] = 600_000
    meta["sources"][1]["n_components"] = 1_100_000
    return {"meta.npy": npy(np.array(json.dumps(meta))),
            "source0.W.npy": npy_claiming((2, F, 600_000), payload=b"\0" * 64),
            "source1.W.npy": npy_claiming((1, F, 1_100_000), payload=b"\0" * 64)}


_REQUIRED = ["name", "description", "sr", "n_fft", "hop_length", "window", "model",
             "created", "livesep_version", "sources"]

# Cases that the header checks catch: load and load_meta both refuse them.
HEADER_CASES = [
    pytest.param(_set("format", "other-format"), ["format", "'other-format'"], id="format"),
    pytest.param(_set("version", 2), ["version 2", "reads version 1"], id="version-newer"),
    pytest.param(_set("version", 0), ["version 0", "reads version 1"], id="version-older"),
    pytest.param(_set("version", "1"), ["version", "'1'", "str"], id="version-type"),
    pytest.param(_delete("format"), ["missing field", "'format'"], id="missing-format"),
    pytest.param(_delete("version"), ["missing field", "'version'"], id="missing-version"),
    *[pytest.param(_delete(key), ["missing field", f"'{key}'"], id=f"missing-{key}")
      for key in _REQUIRED],
    pytest.param(_set("colour", "red"), ["unexpected field", "'colour'"], id="extra-field"),
    pytest.param(_set("sr", "16000"), ["sr", "'16000'", "str"], id="sr-str"),
    pytest.param(_set("sr", 16000.0), ["sr", "16000.0", "float"], id="sr-float"),
    pytest.param(_set("sr", True), ["sr", "True", "bool"], id="sr-bool"),
    pytest.param(_set("sr", None), ["sr", "None"], id="sr-null"),
    pytest.param(_set("sr", 999), ["sr", "999", "[1000, 384000]"], id="sr-low"),
    pytest.param(_set("sr", 384001), ["sr", "384001"], id="sr-high"),
    pytest.param(_set("n_fft", 66), ["n_fft", "66"], id="n_fft-not-multiple-of-4"),
    pytest.param(_set("n_fft", 8), ["n_fft", "8"], id="n_fft-small"),
    pytest.param(_set("n_fft", 2**20), ["n_fft", str(2**20)], id="n_fft-huge"),
    pytest.param(_set("n_fft", "64"), ["n_fft", "'64'"], id="n_fft-str"),
    pytest.param(_set("hop_length", 24), ["hop_length", "24", "divide"], id="hop-not-dividing"),
    pytest.param(_set("hop_length", 64), ["hop_length", "64"], id="hop-equals-n_fft"),
    pytest.param(_set("hop_length", 0), ["hop_length", "0"], id="hop-zero"),
    pytest.param(_set("window", "hann"), ["window", "'hann'"], id="window"),
    pytest.param(_set("model", "cnn"), ["model", "'cnn'"], id="model"),
    pytest.param(_set("model", "nmf"), ["sources[0]", "2 states", "'nmf'"], id="nmf-states"),
    pytest.param(_set("name", ""), ["name", "''"], id="name-empty"),
    pytest.param(_set("name", 5), ["name", "5", "int"], id="name-int"),
    pytest.param(_set("description", None), ["description", "None"], id="description-null"),
    pytest.param(_set("created", "yesterday"), ["created", "'yesterday'"], id="created"),
    pytest.param(_set("livesep_version", 1), ["livesep_version", "1"], id="version-int"),
    pytest.param(_set("sources", "voice"), ["sources", "'voice'", "list"], id="sources-str"),
    pytest.param(_set("sources", []), ["sources", "got 0"], id="no-sources"),
    pytest.param(_seventeen, ["sources", "got 17"], id="17-sources"),
    pytest.param(_set("sources.0", "voice"), ["sources[0]", "'voice'"], id="source-str"),
    pytest.param(_delete("sources.0.n_states"), ["sources[0]", "missing", "'n_states'"],
                 id="source-missing-field"),
    pytest.param(_set("sources.1.colour", 1), ["sources[1]", "unexpected", "'colour'"],
                 id="source-extra-field"),
    pytest.param(_set("sources.0.name", "a/b"), ["sources[0].name", "'a/b'"],
                 id="source-name-slash"),
    pytest.param(_set("sources.0.name", ""), ["sources[0].name", "''"], id="source-name-empty"),
    pytest.param(_set("sources.1.name", "Voice"), ["sources[1].name", "'Voice'", "duplicates",
                                                   "'voice'"], id="duplicate-names"),
    pytest.param(_set("sources.0.n_states", "2"), ["sources[0].n_states", "'2'"],
                 id="n_states-str"),
    pytest.param(_set("sources.0.n_states", 0), ["sources[0].n_states", "0"],
                 id="n_states-zero"),
    pytest.param(_set("sources.0.n_components", 2.5), ["sources[0].n_components", "2.5"],
                 id="n_components-float"),
    pytest.param(_set("sources.0.adaptive", "yes"), ["sources[0].adaptive", "'yes'"],
                 id="adaptive-str"),
    pytest.param(_set("sources.0.provenance", [1]), ["sources[0].provenance", "[1]"],
                 id="provenance-list"),
    pytest.param(_set("sources.0.n_states", 3), ["source0.W", "(2, 33, 3)", "(3, 33, 3)",
                                                 "n_states"], id="n_states-vs-W"),
    pytest.param(_set("sources.0.n_components", 4), ["source0.W", "(2, 33, 3)", "(2, 33, 4)",
                                                     "n_components"], id="n_components-vs-W"),
    pytest.param(_set("n_fft", 48), ["source0.W", "(2, 33, 3)", "(2, 25, 3)", "n_fft"],
                 id="W-bins-vs-n_fft"),
    pytest.param(_fewer_sources, ["source1.", "source 1", "lists 1 source"],
                 id="more-arrays-than-sources"),
    pytest.param(_third_source, ["missing array", "'source2.A'", "3 source"],
                 id="fewer-arrays-than-sources"),
    pytest.param(_members(meta__npy=None), ["missing entry 'meta'"], id="missing-meta"),
    pytest.param(_members(meta__npy=npy(np.array("{not json"))), ["meta", "not valid JSON"],
                 id="meta-bad-json"),
    pytest.param(_members(meta__npy=npy(np.array("[1, 2]"))), ["meta", "[1, 2]", "list"],
                 id="meta-json-list"),
    pytest.param(_members(meta__npy=npy(np.array('{"format": NaN}'))), ["meta", "NaN"],
                 id="meta-json-nan"),
    pytest.param(_members(meta__npy=npy(np.arange(3))), ["meta", "int64"], id="meta-int"),
    pytest.param(_members(meta__npy=npy(np.array(["{}"]))), ["meta", "(1,)"], id="meta-1d"),
    pytest.param(_members(meta__npy=npy(np.array({"format": "livesep-preset"}, dtype=object))),
                 ["meta", "pickled", "object"], id="meta-pickled"),
    pytest.param(_members(meta__npy=b"\x80\x04K\x01."), ["meta", "not a readable .npy"],
                 id="meta-raw-pickle"),
    pytest.param(_members(source0__W__npy=npy(np.array([{"W": 1}], dtype=object))),
                 ["source0.W", "pickled", "object"], id="W-pickled"),
    pytest.param(_members(source0__W__npy=npy(np.ones((2, F, 3), np.int32))),
                 ["source0.W", "int32"], id="W-int"),
    pytest.param(_members(source0__W__npy=npy(np.ones((2, F, 3), np.complex64))),
                 ["source0.W", "complex64"], id="W-complex"),
    pytest.param(_members(source0__A__npy=npy(np.eye(2, dtype=bool))),
                 ["source0.A", "bool"], id="A-bool"),
    pytest.param(_members(source1__pi__npy=npy(np.ones(1, np.uint8))),
                 ["source1.pi", "uint8"], id="pi-uint8"),
    pytest.param(_members(source0__pi__npy=npy(np.array([b"ab", b"cd"]))),
                 ["source0.pi", "S2"], id="pi-bytes"),
    pytest.param(_array("source1.W", lambda w: w[0]), ["source1.W", f"({F}, 2)"],
                 id="W-2d"),
    pytest.param(_array("source0.A", lambda a: np.full((2, 3), 1 / 3)),
                 ["source0.A", "(2, 3)", "(2, 2)"], id="A-shape"),
    pytest.param(_array("source0.pi", lambda p: np.full(3, 1 / 3)),
                 ["source0.pi", "(3,)", "(2,)"], id="pi-shape"),
    pytest.param(_members(notes__npy=npy(np.zeros(1))), ["unexpected entry", "'notes.npy'"],
                 id="extra-array"),
    pytest.param(_members(readme__txt=b"hello"), ["unexpected entry", "'readme.txt'"],
                 id="extra-file"),
    pytest.param(_members(source16__W__npy=npy(np.zeros(1))), ["source16.W", "source 16"],
                 id="extra-source-array"),
    pytest.param(_members(source0__W__npy=npy_claiming((2, F, 2**27), payload=b"\0" * 64)),
                 ["source0.W", f"(2, {F}, {2**27})", "more than"], id="W-claims-huge"),
    pytest.param(_members(source0__A__npy=npy_claiming((2**40, 2**40), "<f8")),
                 ["source0.A", f"({2**40}, {2**40})", "more than"], id="A-claims-huge"),
    pytest.param(_total_too_large, ["source1.W", "so far", "more than"], id="total-too-large"),
]

# Cases only the values reveal: load refuses them, load_meta (headers only) does not.
VALUE_CASES = [
    pytest.param(_array("source0.W", lambda w: _put(w, (0, 5, 1), np.nan)),
                 ["source0.W", "non-finite", "nan", "(0, 5, 1)"], id="W-nan"),
    pytest.param(_array("source0.A", lambda a: _put(a, (1, 0), np.inf)),
                 ["source0.A", "non-finite", "inf", "(1, 0)"], id="A-inf"),
    pytest.param(_array("source1.pi", lambda p: _put(p, (0,), -np.inf)),
                 ["source1.pi", "-inf"], id="pi-minus-inf"),
    pytest.param(_array("source0.W", lambda w: _put(w, (0, 5, 1), -0.1)),
                 ["source0.W", "negative", "-0.1", "(0, 5, 1)"], id="W-negative"),
    pytest.param(_array("source0.A", lambda a: np.array([[1.5, -0.5], [0.5, 0.5]], a.dtype)),
                 ["source0.A", "negative", "-0.5", "(0, 1)"], id="A-negative"),
    pytest.param(_array("source0.pi", lambda p: np.array([1.25, -0.25], p.dtype)),
                 ["source0.pi", "negative", "-0.25", "(1,)"], id="pi-negative"),
    pytest.param(_array("source0.W", _scale_column),
                 ["source0.W", "W[1, :, 2]", "sums to 1.5"], id="W-column-sum"),
    pytest.param(_array("source0.W", lambda w: w * 0), ["source0.W", "sums to 0"],
                 id="W-zero"),
    pytest.param(_array("source0.A", lambda a: np.array([[0.5, 0.5], [0.2, 0.2]], a.dtype)),
                 ["source0.A", "row 1", "sums to 0.4"], id="A-row-sum"),
    pytest.param(_array("source0.pi", lambda p: np.array([0.3, 0.3], p.dtype)),
                 ["source0.pi", "sums to 0.6"], id="pi-sum"),
    pytest.param(_array("source0.W", lambda w: _put(w.astype(np.float64), (0, 0, 0), 1e300)),
                 ["source0.W", "non-finite", "inf"], id="W-float64-overflow"),
    pytest.param(_members(source1__pi__npy=npy(np.ones(1, np.float32)) + b"xx"),
                 ["source1.pi", "unexpected bytes"], id="trailing-bytes"),
    pytest.param(_members(source1__pi__npy=npy_claiming((1,), payload=b"\0\0")),
                 ["source1.pi", "corrupt or truncated"], id="short-data"),
]


def _write_case(tmp_path: Path, saved: Path, mutate: Mutation) -> Path:
    meta, arrays = unpack(saved)
    override = mutate(meta, arrays) or {}
    members = members_of(meta, arrays)
    for name, payload in override.items():
        if payload is None:
            members.pop(name)
        else:
            members[name] = payload
    return pack(tmp_path / "case.npz", members)


@pytest.mark.parametrize("mutate, needles", HEADER_CASES)
def test_load_rejects_bad_header(tmp_path: Path, saved: Path, mutate: Mutation,
                                 needles: list[str]) -> None:
    path = _write_case(tmp_path, saved, mutate)
    tracemalloc.start()
    try:
        start = time.perf_counter()
        message = rejected(path, *needles)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, message
    assert peak < 32 * 2**20, f"allocated {peak} bytes for {message}"
    assert rejected(path, loader=load_meta) == message


@pytest.mark.parametrize("mutate, needles", VALUE_CASES)
def test_load_rejects_bad_values(tmp_path: Path, saved: Path, mutate: Mutation,
                                 needles: list[str]) -> None:
    path = _write_case(tmp_path, saved, mutate)
    rejected(path, *needles)
    assert load_meta(path).name == "two"  # the headers alone are fine


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
    members.update({f"source{i}.W.npy": npy(np.zeros(1)) for i in range(2, 60)})
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


# --------------------------------------------------------------------------- fuzzing

def _outcome(path: Path) -> str:
    """Load ``path`` under a time limit: a valid preset or a PresetError naming the file."""
    with time_limit(2.0):
        try:
            loaded = load(path)
        except PresetError as error:
            assert str(error).startswith(f"{path}: "), str(error)
            return "rejected"
    assert_valid(loaded)
    return "loaded"


@pytest.fixture
def small_saved(tmp_path: Path) -> Path:
    return save(make_preset(n_fft=32, hop_length=8, components=(2, 2)), tmp_path / "s.npz")


def test_fuzz_truncation(tmp_path: Path, small_saved: Path) -> None:
    data = small_saved.read_bytes()
    path = tmp_path / "fuzz.npz"
    outcomes = set()
    for length in range(len(data)):
        path.write_bytes(data[:length])
        outcomes.add(_outcome(path))
    assert outcomes == {"rejected"}


def test_fuzz_bit_flips(tmp_path: Path, small_saved: Path) -> None:
    data = small_saved.read_bytes()
    path = tmp_path / "fuzz.npz"
    counts = {"loaded": 0, "rejected": 0}
    for seed in range(1500):
        rng = np.random.default_rng(seed)
        mutated = bytearray(data)
        for position in rng.integers(0, len(data), size=rng.integers(1, 5)):
            mutated[position] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(mutated))
        counts[_outcome(path)] += 1
    assert counts["rejected"] > 1000, counts


def test_fuzz_members_with_valid_crc(tmp_path: Path, small_saved: Path) -> None:
    """Flip bits inside the .npy members and repack with correct CRCs, so the flips reach
    the .npy headers, the meta JSON and the float data instead of being caught by the zip."""
    with zipfile.ZipFile(small_saved) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    names = sorted(members)
    path = tmp_path / "fuzz.npz"
    counts = {"loaded": 0, "rejected": 0}
    for seed in range(1500):
        rng = np.random.default_rng(seed)
        name = names[int(rng.integers(0, len(names)))]
        payload = bytearray(members[name])
        # Half the cases aim at the first 128 bytes: the .npy magic and header.
        end = min(len(payload), 128) if seed % 2 else len(payload)
        for position in rng.integers(0, end, size=rng.integers(1, 4)):
            payload[position] ^= 1 << int(rng.integers(0, 8))
        if seed % 7 == 0:  # sometimes also cut the member short or extend it
            payload = payload[:int(rng.integers(0, len(payload)))] if seed % 2 else (
                payload + bytes(int(rng.integers(1, 9))))
        pack(path, {**members, name: bytes(payload)},
             compression=zipfile.ZIP_STORED if seed % 3 else zipfile.ZIP_DEFLATED)
        counts[_outcome(path)] += 1
    # Flips in low mantissa bits of W leave a valid preset; most flips must be refused.
    assert counts["loaded"] > 0 and counts["rejected"] > 500, counts


# --------------------------------------------------------------------------- convolutive sources

def lagged(rng: np.random.Generator, frames: int, n_components: int,
           n_bins: int = F) -> np.ndarray:
    """Convolutive templates (frames, F, K), each summing to 1 over lags and bins."""
    W = rng.random((frames, n_bins, n_components)) + 0.01
    return W / W.sum(axis=(0, 1), keepdims=True)


def make_convolutive_preset(*, frames: int = 3, n_fft: int = N_FFT, hop_length: int = HOP,
                            seed: int = 0) -> Preset:
    """An N-HMM voice (2 states x 3) beside a convolutive drum source (frames x F x 2)."""
    rng = np.random.default_rng(seed)
    n_bins = n_fft // 2 + 1
    drums = SourceModel.from_nmfd("drums", lagged(rng, frames, 2, n_bins),
                                  provenance={"n_lags": frames, "cost": "kl"})
    return Preset("conv", description="voice and drums", sr=SR, n_fft=n_fft,
                  hop_length=hop_length, model="nhmm",
                  sources=(make_source("voice", 2, 3, seed=seed, n_bins=n_bins), drums),
                  created="2026-01-02T03:04:05+00:00", livesep_version="0.1.0")


@pytest.fixture
def convolutive_saved(tmp_path: Path) -> Path:
    return save(make_convolutive_preset(), tmp_path / "conv.npz")


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
    pytest.param(_set("sources.1.frames", 0), ["sources[1].frames", "0"], True,
                 id="frames-zero"),
    pytest.param(_set("sources.1.frames", 65), ["sources[1].frames", "[1, 64]", "65"], True,
                 id="frames-too-many"),
    pytest.param(_set("sources.1.frames", "3"), ["sources[1].frames", "'3'", "str"], True,
                 id="frames-str"),
    pytest.param(_set("sources.1.frames", 3.0), ["sources[1].frames", "3.0", "float"], True,
                 id="frames-float"),
    pytest.param(_set("sources.1.frames", None), ["sources[1].frames", "None"], True,
                 id="frames-null"),
    pytest.param(_set("sources.0.frames", 3), ["sources[0].frames", "2 states", "one state"],
                 True, id="frames-with-states"),
    pytest.param(_set("sources.1.adaptive", True), ["sources[1].frames", "adaptive"], True,
                 id="frames-adaptive"),
    pytest.param(_set("sources.1.frames", 4), ["source1.W", "(3, 33, 2)", "(4, 33, 2)",
                                               "frames"], True, id="frames-vs-W"),
    pytest.param(_delete("sources.1.frames"), ["source1.W", "(3, 33, 2)", "(1, 33, 2)",
                                               "n_states"], True, id="frames-left-out"),
    pytest.param(_array("source1.A", lambda a: np.full((3, 3), 1 / 3, a.dtype)),
                 ["source1.A", "(3, 3)", "(1, 1)"], True, id="A-per-lag"),
    pytest.param(_array("source1.W", _lag_columns),
                 ["source1.W", "template W[:, :, ", "sums to 3"], False,
                 id="W-columns-normalised-per-lag"),
    pytest.param(_array("source1.W", lambda w: _put(w, (2, 5, 1), -0.1)),
                 ["source1.W", "negative", "(2, 5, 1)"], False, id="W-negative"),
]


@pytest.mark.parametrize("mutate, needles, header", CONVOLUTIVE_CASES)
def test_load_rejects_bad_convolutive_sources(tmp_path: Path, convolutive_saved: Path,
                                              mutate: Mutation, needles: list[str],
                                              header: bool) -> None:
    path = _write_case(tmp_path, convolutive_saved, mutate)
    message = rejected(path, *needles)
    if header:
        assert rejected(path, loader=load_meta) == message
    else:
        assert load_meta(path).sources[1].frames == 3


def test_fuzz_convolutive_members_with_valid_crc(tmp_path: Path) -> None:
    """As test_fuzz_members_with_valid_crc, on a preset with a convolutive source."""
    saved = save(make_convolutive_preset(n_fft=32, hop_length=8), tmp_path / "c.npz")
    with zipfile.ZipFile(saved) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    names = sorted(members)
    path = tmp_path / "fuzz.npz"
    counts = {"loaded": 0, "rejected": 0}
    for seed in range(600):
        rng = np.random.default_rng(seed)
        name = names[int(rng.integers(0, len(names)))]
        payload = bytearray(members[name])
        end = min(len(payload), 128) if seed % 2 else len(payload)
        for position in rng.integers(0, end, size=rng.integers(1, 4)):
            payload[position] ^= 1 << int(rng.integers(0, 8))
        pack(path, {**members, name: bytes(payload)})
        counts[_outcome(path)] += 1
    assert counts["loaded"] > 0 and counts["rejected"] > 200, counts
