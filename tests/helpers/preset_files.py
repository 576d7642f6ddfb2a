"""Builders, file-format helpers and constants shared by the tests of livesep.presets."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livesep.errors import PresetError
from livesep.presets import Preset, SourceModel, load

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
        q = 1 if convolutive or source.layers else source.W.shape[0]  # unfolded: W (L + 1, F, K)
        assert source.W.dtype == source.A.dtype == source.pi.dtype == np.float32
        assert source.W.ndim == 3 and source.W.shape[1] == preset.n_fft // 2 + 1
        assert source.A.shape == (q, q) and source.pi.shape == (q,)
        for array in (source.W, source.A, source.pi):
            assert np.all(np.isfinite(array)) and np.all(array >= 0)
        # An unfolded source's estimate block (its last) keeps its trained scale.
        distributions = source.W[:-1] if source.layers else source.W
        np.testing.assert_allclose(distributions.sum(axis=(0, 1) if convolutive else 1,
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


# --------------------------------------------------------------------------- mutations

Mutation = Callable[[dict[str, Any], dict[str, np.ndarray]], "dict[str, bytes | None] | None"]


def set_meta(path: str, value: Any) -> Mutation:
    """Set ``meta[a][b]...`` (path "a.b", list indices as numbers) to ``value``."""
    def mutate(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = meta
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


def delete_meta(path: str) -> Mutation:
    def mutate(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = meta
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


def change_array(key: str, change: Callable[[np.ndarray], np.ndarray]) -> Mutation:
    def mutate(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        arrays[key] = change(arrays[key].copy())
    return mutate


def put(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    array[index] = value
    return array


def write_case(tmp_path: Path, saved: Path, mutate: Mutation) -> Path:
    meta, arrays = unpack(saved)
    override = mutate(meta, arrays) or {}
    members = members_of(meta, arrays)
    for name, payload in override.items():
        if payload is None:
            members.pop(name)
        else:
            members[name] = payload
    return pack(tmp_path / "case.npz", members)


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


# --------------------------------------------------------------------------- unfolded sources

def make_unfolded_preset(*, layers: int = 3, components: tuple[int, ...] = (3, 2),
                         names: tuple[str, ...] = ("voice", "noise"), n_fft: int = N_FFT,
                         hop_length: int = HOP, seed: int = 0) -> Preset:
    """Unfolded sources, W (layers + 1, F, K) each, every column summing to 1."""
    rng = np.random.default_rng(seed)
    n_bins = n_fft // 2 + 1
    sources = tuple(SourceModel.from_unfolded(name, stochastic(rng, (layers + 1, n_bins, k), 1),
                                              provenance={"layers": layers, "seed": seed})
                    for name, k in zip(names, components))
    return Preset("deep", description="unfolded voice and noise", sr=SR, n_fft=n_fft,
                  hop_length=hop_length, model="nmf", sources=sources,
                  created="2026-01-02T03:04:05+00:00", livesep_version="0.1.0")
