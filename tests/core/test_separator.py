"""The C++ engine through its bindings: streaming STFT, the Separator lifecycle, the rules of
the audio path (no allocation, finite output, exact silence) and argument checking."""

from __future__ import annotations

import numpy as np
import pytest

from livesep import ParameterError, Separator
from livesep._core import _internal

BLOCK_SIZES = [1, 7, 64, 128, 256, 1000]
N_FFTS = [256, 512, 1024, 2048]


def make_signal(n: int, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Noise plus two tones: broadband and narrowband content at once."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    tones = 0.4 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 3001.0 * t)
    return (0.3 * rng.standard_normal(n) + tones).astype(np.float32)


def stream(separator: Separator, x: np.ndarray, block_size: int) -> np.ndarray:
    """Feed x block by block, as an audio callback would, and join the outputs."""
    outputs = [separator.process(x[start:start + block_size])
               for start in range(0, x.size, block_size)]
    return np.concatenate(outputs, axis=1)


def prepared(*, sr: int = 16000, n_fft: int = 512, hop_length: int | None = None,
             n_sources: int = 2) -> Separator:
    separator = Separator()
    separator.prepare(sr=sr, n_fft=n_fft, hop_length=hop_length or n_fft // 4,
                      n_sources=n_sources)
    return separator


@pytest.mark.parametrize("n_fft", N_FFTS)
@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_stream_reconstructs_input_delayed_by_latency(n_fft: int, block_size: int) -> None:
    separator = prepared(n_fft=n_fft, n_sources=2)
    latency = separator.latency_samples()
    x = make_signal(3 * n_fft + 2500)
    y = stream(separator, x, block_size)
    assert y.shape == (2, x.size)
    delayed = np.concatenate([np.zeros(latency, dtype=np.float32), x[:x.size - latency]])
    for channel in y:
        assert np.max(np.abs(channel - delayed)) < 1e-5


@pytest.mark.parametrize("sr", [8000, 16000, 48000])
@pytest.mark.parametrize("hop_divisor", [2, 4])
def test_half_and_quarter_hops_reconstruct(sr: int, hop_divisor: int) -> None:
    separator = prepared(sr=sr, n_fft=512, hop_length=512 // hop_divisor, n_sources=1)
    latency = separator.latency_samples()
    x = make_signal(6000, sr=sr)
    y = stream(separator, x, 37)[0]
    assert latency == 511
    assert np.max(np.abs(y[latency:] - x[:-latency])) < 1e-5


def reference_frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Slow and obvious: frame k holds x[(k+1)*hop - n_fft : (k+1)*hop], zeros before 0."""
    window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft))
    frames = []
    for k in range(x.size // hop):
        end = (k + 1) * hop
        frame = np.zeros(n_fft)
        for i in range(n_fft):
            sample = end - n_fft + i
            if sample >= 0:
                frame[i] = x[sample]
        frames.append(np.fft.rfft(frame * window))
    return np.array(frames)


@pytest.mark.parametrize("n_fft", [256, 512, 1024])
@pytest.mark.parametrize("block_size", [1, 37, 128])
def test_analysis_frames_match_numpy_rfft(n_fft: int, block_size: int) -> None:
    hop = n_fft // 4
    x = make_signal(4 * n_fft + 100)
    spectra = _internal.stream_spectra(x, n_fft=n_fft, hop_length=hop, block_size=block_size)
    expected = reference_frames(x.astype(np.float64), n_fft, hop)
    assert spectra.shape == expected.shape
    # Relative to each frame's largest bin: float32 FFT rounding is relative to the frame's
    # energy, so near-empty bins cannot be matched to 1e-5 of their own size.
    scale = np.abs(expected).max(axis=1, keepdims=True)
    relative_error = np.abs(spectra - expected) / scale
    assert relative_error.max() < 1e-5


@pytest.mark.parametrize("block_size", [1, 7, 128, 1000])
@pytest.mark.parametrize("n_sources", [1, 2, 3])
def test_process_allocates_nothing_after_prepare(block_size: int, n_sources: int) -> None:
    before_prepare = _internal.allocation_count()
    separator = prepared(n_sources=n_sources)
    # The counter sees the module's allocations: prepare must have made some.
    assert _internal.allocation_count() > before_prepare
    x = make_signal(block_size * 5)
    out = np.zeros((n_sources, block_size), dtype=np.float32)
    for start in range(0, x.size, block_size):
        block = np.ascontiguousarray(x[start:start + block_size])
        assert _internal.count_process_allocations(separator, block, out) == 0
    separator.reset()
    assert _internal.count_process_allocations(separator, x[:block_size].copy(), out) == 0


@pytest.mark.parametrize("block_size", [1, 37, 128])
def test_silence_gives_exact_zeros(block_size: int) -> None:
    separator = prepared()
    y = stream(separator, np.zeros(5000, dtype=np.float32), block_size)
    assert np.all(y == 0.0)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("block_size", [1, 64, 300])
def test_non_finite_input_gives_finite_output_and_leaves_engine_clean(
        bad_value: float, block_size: int) -> None:
    x = make_signal(8000)
    dirty = x.copy()
    dirty[2000:2300] = bad_value
    dirty[4100] = bad_value
    cleaned = np.where(np.isfinite(dirty), dirty, 0.0).astype(np.float32)
    y_dirty = stream(prepared(), dirty, block_size)
    y_clean = stream(prepared(), cleaned, block_size)
    assert np.all(np.isfinite(y_dirty))
    # A non-finite sample counts as silence and leaves no trace in the state.
    np.testing.assert_array_equal(y_dirty, y_clean)
    latency = 511
    tail = slice(4100 + 512 + latency, None)
    assert np.max(np.abs(y_dirty[0, tail] - x[tail.start - latency:x.size - latency])) < 1e-5


def test_clipped_full_scale_input_is_finite_and_reconstructed() -> None:
    x = np.clip(make_signal(6000) * 20.0, -1.0, 1.0).astype(np.float32)
    y = stream(prepared(), x, 128)
    assert np.max(np.abs(y[0, 511:] - x[:-511])) < 1e-5


def test_reset_returns_to_fresh_state() -> None:
    x = make_signal(5000)
    separator = prepared()
    stream(separator, make_signal(3333, seed=1), 100)
    separator.reset()
    np.testing.assert_array_equal(stream(separator, x, 100), stream(prepared(), x, 100))


def test_process_fills_given_out_array() -> None:
    separator = prepared(n_sources=3)
    x = make_signal(700)
    out = np.full((3, 700), 7.0, dtype=np.float32)
    returned = separator.process(x, out=out)
    assert returned is out or np.shares_memory(returned, out)
    np.testing.assert_array_equal(out, stream(prepared(n_sources=3), x, 700))


@pytest.mark.parametrize(
    "bad_x, expected",
    [
        (np.zeros(64, dtype=np.float64), "float64"),
        (np.zeros(64, dtype=np.int16), "int16"),
        (np.zeros((2, 64), dtype=np.float32), "shape=(2, 64)"),
        (np.zeros(128, dtype=np.float32)[::2], "C-contiguous=False"),
        (np.zeros(0, dtype=np.float32), "got 0"),
        ([0.0] * 64, "list"),
    ],
)
def test_bad_input_raises_parameter_error_showing_it(bad_x: object, expected: str) -> None:
    with pytest.raises(ParameterError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        prepared().process(bad_x)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad_out, expected",
    [
        (np.zeros((2, 63), dtype=np.float32), r"shape=\(2, 63\)"),
        (np.zeros((3, 64), dtype=np.float32), r"shape=\(3, 64\)"),
        (np.zeros((2, 64), dtype=np.float64), "float64"),
        (np.zeros((64, 2), dtype=np.float32).T, "C-contiguous=False"),
    ],
)
def test_bad_out_raises_parameter_error(bad_out: np.ndarray, expected: str) -> None:
    with pytest.raises(ParameterError, match=expected):
        prepared().process(np.zeros(64, dtype=np.float32), out=bad_out)


def test_read_only_out_is_refused() -> None:
    out = np.zeros((2, 64), dtype=np.float32)
    out.setflags(write=False)
    with pytest.raises(ParameterError, match="writable"):
        prepared().process(np.zeros(64, dtype=np.float32), out=out)


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"sr": 16000, "n_fft": 502, "hop_length": 251}, "got 502"),
        ({"sr": 16000, "n_fft": 512, "hop_length": 100}, "got 100"),
        ({"sr": 16000, "n_fft": 512, "hop_length": 512}, "got 512"),
        ({"sr": 16000, "n_fft": 8, "hop_length": 2}, "got 8"),
        ({"sr": 10, "n_fft": 512, "hop_length": 128}, "got 10"),
        ({"sr": 16000, "n_fft": 512, "hop_length": 128, "n_sources": 0}, "got 0"),
        ({"sr": 16000, "n_fft": 512, "hop_length": 128, "n_sources": 17}, "got 17"),
    ],
)
def test_bad_settings_raise_parameter_error(settings: dict[str, int], expected: str) -> None:
    with pytest.raises(ParameterError, match=expected):
        Separator().prepare(**settings)


def test_unprepared_separator_refuses_to_process() -> None:
    separator = Separator()
    assert not separator.prepared
    assert separator.latency_samples() == 0
    with pytest.raises(ParameterError, match="not prepared"):
        separator.process(np.zeros(16, dtype=np.float32))


def test_failed_prepare_leaves_engine_unprepared() -> None:
    separator = prepared()
    with pytest.raises(ParameterError):
        separator.prepare(sr=16000, n_fft=502, hop_length=251, n_sources=2)
    assert not separator.prepared


def test_properties_report_the_settings() -> None:
    separator = prepared(sr=48000, n_fft=1024, hop_length=256, n_sources=3)
    assert (separator.sr, separator.n_fft, separator.hop_length, separator.n_sources) == (
        48000, 1024, 256, 3)
    assert separator.latency_samples() == 1023


def test_an_unpickled_float32_array_is_accepted() -> None:
    """dtype objects are compared by equivalence: a copy from another process is float32."""
    import pickle

    x = pickle.loads(pickle.dumps(make_signal(256)))
    assert x.dtype == np.float32
    assert prepared().process(x).shape == (2, 256)
