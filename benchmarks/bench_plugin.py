"""The LV2 plugin's cost against the engine's in livesep, in the same run (issue 19).

The plugin (the installed bundle's binary) is driven the way a host drives it, through its
LV2 descriptor (instantiate, connect_port, run) by a minimal host written with ctypes; the
engine in livesep through ``Separator.process`` (at the preset's rate) or the live host's
``RateBridge`` around it (at a device rate). Both run the same preset over the same real
audio (a corpus mixture of a voice in noise) in blocks of the same size, interleaved block
by block so that machine load falls on both alike, each block timed from Python. Also
measured: the plugin's instantiate time (reading its default preset included: voice.npz at
16 kHz, voice-48k.npz at 44.1 and 48 kHz, livesep.presets.default_preset).

    python benchmarks/bench_plugin.py [--seconds S] [--block N] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT / "tests"))

from helpers.lv2_host import Descriptor  # noqa: E402
from livesep import load_preset  # noqa: E402
from livesep.engine import create_separator  # noqa: E402
from livesep.live.bridge import RateBridge  # noqa: E402
from livesep.live.plugin import BUNDLE_NAME, install_plugin  # noqa: E402
from livesep.presets import default_preset  # noqa: E402
from livesep.resampling import resample  # noqa: E402


class PluginHost:
    """One instance of the plugin with its ports on numpy buffers (no host features)."""

    def __init__(self, bundle: Path, rate: int, block: int) -> None:
        library = ctypes.CDLL(str(bundle / "livesep.so"))
        library.lv2_descriptor.restype = ctypes.POINTER(Descriptor)
        self.descriptor = library.lv2_descriptor(0).contents
        features = (ctypes.c_void_p * 1)(None)
        started = time.perf_counter()
        self.handle = self.descriptor.instantiate(ctypes.byref(self.descriptor), float(rate),
                                                  f"{bundle}/".encode(), features)
        self.instantiate_seconds = time.perf_counter() - started
        assert self.handle, "the plugin did not instantiate"
        self.input = np.zeros(block, np.float32)
        self.outputs = np.zeros((3, block), np.float32)
        self.controls = np.array([100.0, 1.0, 1.0, 0.0], np.float32)  # strength, gains, latency
        self._connect(0, self.input)
        for index in range(3):
            self._connect(1 + index, self.outputs[index])
        for index in range(4):
            self._connect(4 + index, self.controls[index:index + 1])
        for index in (8, 9):  # the optional atom ports stay unconnected
            self.descriptor.connect_port(self.handle, index, None)
        self.descriptor.activate(self.handle)

    def _connect(self, index: int, array: np.ndarray) -> None:
        self.descriptor.connect_port(self.handle, index, array.ctypes.data_as(ctypes.c_void_p))

    def run(self, block: np.ndarray) -> None:
        self.input[:] = block
        self.descriptor.run(self.handle, block.size)

    def close(self) -> None:
        if self.descriptor.deactivate:  # optional (NULL) in LV2
            self.descriptor.deactivate(self.handle)
        self.descriptor.cleanup(self.handle)


def measure(bundle: Path, x: np.ndarray, rate: int, block: int) -> dict[str, float]:
    """Per-block times (median and 99th percentile, seconds) of plugin and engine."""
    preset = load_preset(default_preset(rate))  # the plugin's default at that rate
    plugin = PluginHost(bundle, rate, block)
    separator = create_separator(preset)
    bridge = RateBridge(rate, preset.sr, preset.n_sources,
                        engine_latency=separator.latency_samples(),
                        max_block=block) if rate != preset.sr else None
    out = np.zeros((block, preset.n_sources), np.float32)
    times = np.zeros((2, x.size // block))
    for i in range(times.shape[1]):
        chunk = x[i * block:(i + 1) * block]
        started = time.perf_counter()
        plugin.run(chunk)
        middle = time.perf_counter()
        if bridge is None:
            separator.process(chunk)
        else:
            bridge.process(separator, chunk, out)
        times[:, i] = middle - started, time.perf_counter() - middle
    plugin.close()
    median = np.median(times, axis=1)
    return {"instantiate": plugin.instantiate_seconds, "plugin": median[0], "engine": median[1],
            "plugin_p99": np.percentile(times[0], 99), "engine_p99": np.percentile(times[1], 99),
            "deadline": block / rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--corpus", default=os.environ.get("LIVESEP_CORPUS", "corpus"))
    args = parser.parse_args()
    mix, source_rate = sf.read(Path(args.corpus) / "mixtures" / "speech-noise-uk-breath" /
                               "mix.wav", dtype="float32")
    with tempfile.TemporaryDirectory() as folder:
        bundle = install_plugin(folder)
        assert bundle.name == BUNDLE_NAME
        print(f"the default voice preset for the rate, blocks of {args.block}, "
              f"{args.seconds:g} s of a voice in noise")
        print(f"{'host rate':>9} {'instantiate':>12} {'plugin':>10} {'engine':>10} {'ratio':>6}"
              f" {'plugin p99':>11} {'engine p99':>11} {'deadline':>9}")
        for rate in (16000, 44100, 48000):
            x = resample(mix, orig_sr=source_rate, target_sr=rate)
            x = np.resize(x, int(args.seconds * rate))
            r = measure(bundle, x, rate, args.block)
            print(f"{rate:>9} {r['instantiate'] * 1e3:>9.1f} ms {r['plugin'] * 1e6:>7.1f} us "
                  f"{r['engine'] * 1e6:>7.1f} us {r['plugin'] / r['engine']:>6.2f} "
                  f"{r['plugin_p99'] * 1e6:>8.1f} us {r['engine_p99'] * 1e6:>8.1f} us "
                  f"{r['deadline'] * 1e3:>6.2f} ms")


if __name__ == "__main__":
    main()
