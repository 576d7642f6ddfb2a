"""The live host on a real PortAudio device under load: callback jitter, processing time,
CPU load and xruns over a long run, with another process keeping one core busy.

Each configuration starts its own JACK server with the dummy backend (no sound card needed;
see tests/helpers/jack_harness.py), plays noise into livesep's input from a second JACK client and
records nothing but statistics. "callback" is the whole audio callback (C++: resampling,
mixing and copies included), "engine" the separation inside it, "period" the time between callback
starts, "jitter" its deviation from the nominal period. ``--baseline`` adds, per configuration,
a stream on the same server and load that only copies its input: the xruns the machine gives
without livesep.

    python benchmarks/bench_live.py [--seconds 60] [--preset P.npz] [--no-load] [--json F]
                                    [--latency low] [--config 48000/64 ...] [--attribute]
                                    [--baseline]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT / "tests"))

from helpers.jack_harness import (  # noqa: E402
    StallWitness,
    jack_available,
    overran_before,
    play_and_record,
    serving,
)
from helpers.presets import noise, random_preset  # noqa: E402
from livesep import presets  # noqa: E402
from livesep.engine import LATENCIES, EngineSettings  # noqa: E402
from livesep.live.host import LiveSeparator  # noqa: E402
from livesep.live.stats import LiveStats  # noqa: E402

# (device rate, JACK period): a 48 kHz device resampled for a 16 kHz preset, and the
# preset's own rate.
CONFIGS = [(48000, 256), (16000, 128)]
# Lateness (s) the stall witness reports: well under the shortest period run here.
WITNESS_THRESHOLD = 0.0005


def play_through(rate: int, period: int, seconds: float, *, channels: int,
                 start: Callable[[], object], stop: Callable[[], object]) -> dict[str, int]:
    """Noise played for ``seconds`` through the stream ``start`` opens (and ``stop`` closes)
    on a JACK server of its own; returns how often jackd blamed each client for an xrun
    meanwhile (``JackServer.settled_blames``): ``PortAudio`` is the stream under test, the
    player and recorder the harness's clients, and the server's driver the machine itself (it
    runs above every client, so only a stall of the machine makes it late)."""
    with serving(rate, period) as server, tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        play_and_record(server, noise(int(seconds * rate), seed=11), Path(folder),
                        target_channels=channels, lead_in=0.5, tail=0.2, start_target=start,
                        before_exit=stop)
        return dict(Counter(client for _, client, _ in server.settled_blames(
            started, time.monotonic())))


def run(rate: int, period: int, preset: presets.Preset, seconds: float,
        latency: str, *, attribute: bool) -> tuple[LiveStats, int | None, dict[str, int]]:
    """The stream's statistics, jackd's blames (:func:`play_through`) and, with ``attribute``,
    how many of its xruns livesep's own work caused: one of its callbacks before the xrun
    overran a period, the stalls a real-time witness saw aside (``overran_before``). The
    witness wakes every millisecond above the JACK graph, so it adds xruns of its own at short
    periods."""
    live = LiveSeparator(preset, output="stems", settings=EngineSettings(latency=latency))
    captured: list[LiveStats] = []
    with (StallWitness(threshold=WITNESS_THRESHOLD) if attribute else nullcontext()) as witness:
        blamed = play_through(rate, period, seconds, channels=min(2, preset.n_sources),
                              start=live.start, stop=lambda: captured.append(live.stop()))
    if witness is None:
        return captured[0], None, blamed
    return captured[0], sum(overran_before(live, record, period / rate, witness)
                            for record in live.xrun_records()), blamed


def machine_baseline(rate: int, period: int, seconds: float) -> tuple[int, dict[str, int]]:
    """The xruns the machine gives a stream that does nothing: a PortAudio stream on the same
    server and load whose callback only copies its input, and jackd's blames meanwhile. Its
    callback is Python (a few microseconds a period, against livesep's engine at up to a
    few hundred), so what it sees is the machine's stalls, not work."""
    import sounddevice as sd

    flagged = [0]

    def copy(indata: np.ndarray, outdata: np.ndarray, frames: int, when: object,
             status: sd.CallbackFlags) -> None:
        outdata[:] = indata[:, :1]
        # Counted as livesep's Xruns.total counts them: each flag raised.
        flagged[0] += sum(map(bool, (status.input_overflow, status.input_underflow,
                                     status.output_underflow, status.output_overflow)))

    streams: list[sd.Stream] = []

    def start() -> None:
        streams.append(sd.Stream(samplerate=rate, blocksize=period, channels=(1, 2),
                                 dtype="float32", callback=copy, dither_off=True))
        streams[0].start()

    blamed = play_through(rate, period, seconds, channels=2, start=start,
                          stop=lambda: streams[0].close())
    return flagged[0], blamed


def callback_overhead(calls: int = 20000) -> str:
    """What the callback costs around the separation itself: the engine here has no model
    (a pass-through STFT), so the time is the STFT plus, with resampling, the two polyphase
    resamplers, the queue and the copies (timed around ``LiveHost.run``, which adds the
    Python call's own overhead of about a microsecond)."""
    import time

    from livesep import Separator, _core
    from livesep.live.bridge import RateBridge

    lines = []
    for rate, block in [(48000, 256), (16000, 128)]:
        engine = Separator()
        engine.prepare(sr=16000, n_fft=512, hop_length=128, n_sources=2)
        bridge = (RateBridge(rate, 16000, 2, engine_latency=engine.latency_samples())
                  if rate != 16000 else None)
        host = _core.LiveHost(engine, in_channels=1, input_channel=0, out_channels=2,
                              bridge=bridge.core if bridge else None)
        x = noise(block * calls, seed=5)
        outdata = np.zeros((block, 2), np.float32)
        times = np.empty(calls)
        for i in range(calls):
            indata = x[i * block:(i + 1) * block, None]
            start = time.perf_counter()
            host.run(indata, outdata)
            times[i] = time.perf_counter() - start
        path = "resampled" if bridge else "direct"
        lines.append(f"  {path} {rate} Hz / {block}: median {1e6 * np.median(times):.1f} us, "
                     f"p99 {1e6 * np.percentile(times, 99):.1f} us per callback (engine "
                     "without a model)")
    return "callback path cost without separation:\n" + "\n".join(lines)


def report(rate: int, period: int, stats: LiveStats) -> str:
    ms = 1000.0

    def spread(name: str, value: object) -> str:
        median, p99, most = (getattr(value, k) * ms for k in ("median", "p99", "max"))
        return f"  {name:<22} median {median:7.3f}  p99 {p99:7.3f}  max {most:7.3f} ms"

    latency = stats.latency
    lines = [
        f"{rate} Hz / {period} frames, preset at {stats.engine_rate} Hz: {stats.callbacks} "
        f"callbacks over {stats.seconds:.1f} s",
        spread("period", stats.period),
        f"  {'jitter p99':<22} {stats.jitter_p99 * ms:7.3f} ms (nominal period "
        f"{stats.nominal_period * ms:.3f} ms)",
        spread("callback", stats.callback),
        spread("engine (C++)", stats.engine),
        f"  {'CPU load':<22} mean {100 * stats.cpu_load:.1f}%  p99 "
        f"{100 * stats.cpu_load_p99:.1f}% of the period",
        f"  {'xruns':<22} {stats.xruns.total} ({asdict(stats.xruns)})",
        f"  {'latency':<22} {latency.total * ms:.1f} ms = algorithmic "
        f"{latency.algorithmic * ms:.1f} + resampling {latency.resampling * ms:.1f} + devices "
        f"{(latency.input_device + latency.output_device) * ms:.1f}",
        f"  {'quality':<22} level {stats.quality_level} ({stats.n_iter} iterations, beam "
        f"{stats.beam}); events: {list(stats.events) or 'none'}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--preset", default=None,
                        help="a preset file (default: random, 2 sources x 20 states x 10 "
                             "components, the shipped presets' size)")
    parser.add_argument("--no-load", action="store_true", help="no busy process beside")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    parser.add_argument("--attribute", action="store_true",
                        help="also count the xruns livesep's own work caused, with a stall "
                             "witness beside the stream (which adds xruns at short periods)")
    parser.add_argument("--baseline", action="store_true",
                        help="also run, per configuration, a stream that only copies its "
                             "input: the xruns the machine gives without livesep")
    parser.add_argument("--latency", choices=tuple(LATENCIES), default="standard",
                        help="the engine's latency mode (default: %(default)s)")
    parser.add_argument("--config", action="append", default=None, metavar="RATE/PERIOD",
                        help="device rate and JACK period, e.g. 48000/64 (default: 48000/256 "
                             "and 16000/128)")
    args = parser.parse_args()
    configs = ([tuple(int(part) for part in config.split("/")) for config in args.config]
               if args.config else CONFIGS)
    if not jack_available():
        print("bench_live: needs jackd (Debian jackd2) and the JACK-Client package",
              file=sys.stderr)
        return 2
    preset = (presets.load(args.preset) if args.preset
              else random_preset((20, 20), 10, sr=16000))
    hog = None if args.no_load else subprocess.Popen(
        [sys.executable, "-c", "while True: pass"])
    results = {}
    print(callback_overhead(), flush=True)
    try:
        for rate, period in configs:
            stats, caused, blamed = run(rate, period, preset, args.seconds, args.latency,
                                        attribute=args.attribute)
            print(report(rate, period, stats), flush=True)
            print(f"  {'jackd blamed':<22} {blamed or 'nothing'}", flush=True)
            if caused is not None:
                print(f"  {'xruns livesep caused':<22} {caused} (a callback of its own overran "
                      f"its period, machine stalls aside)", flush=True)
            results[f"{rate}/{period}"] = {**asdict(stats), "xruns_livesep": caused,
                                           "jackd_blamed": blamed}
            if args.baseline:
                flagged, idle_blamed = machine_baseline(rate, period, args.seconds)
                print(f"  {'copy-only stream':<22} {flagged} xruns flagged; jackd blamed "
                      f"{idle_blamed or 'nothing'}", flush=True)
                results[f"{rate}/{period}"]["baseline"] = {"xruns_flagged": flagged,
                                                           "jackd_blamed": idle_blamed}
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    print(f"(one core kept busy by another process: {'no' if args.no_load else 'yes'}; "
          f"{np.__name__} {np.__version__})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
