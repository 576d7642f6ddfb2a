"""A long run of the live host: memory, callback time, latency and xruns minute by minute.

The live host streams on JACK's dummy backend at 48 kHz with 128-frame periods (a 16 kHz
preset, so through the rate bridge), playing a speech-in-noise recording in a loop as its
input (file mode: the live host itself, no second client). Every few seconds the preset is
swapped for the next of the speech presets (the default ``voice``, ``speech-noise-nhmm``,
``speech-noise-nmf``) and a gain moves; another process keeps one core busy the
whole time. Each minute it prints the xruns of that minute (and how many of them livesep
caused: those after one of livesep's callbacks took longer than a period besides the time
a real-time witness above the JACK graph saw the machine stalled during it),
the process's resident memory, the callback's 99th percentile and maximum, and the latency
the stream reports.

    python benchmarks/bench_soak.py --minutes 60 [--no-load] [--json soak.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT / "tests"))

from helpers.jack_harness import (  # noqa: E402
    StallWitness,
    jack_available,
    overran_before,
    serving,
)
from livesep import audio, load_preset  # noqa: E402
from livesep.live import FileSeparator  # noqa: E402

RATE, PERIOD = 48000, 128
PRESETS = ("voice", "speech-noise-nhmm", "speech-noise-nmf")
# Swaps and gain changes on a fixed schedule from the start, whole cycles of the presets per
# minute, so that every minute's memory is read at the same point of the cycle: the presets
# differ in size (the default by 5 MiB), so a reading anywhere in the cycle swings by that.
SWAP_EVERY = 5.0  # seconds between preset swaps
GAIN_EVERY = 3.0  # seconds between gain changes
# Stalls shorter than a period still lengthen a callback: note any above half a millisecond.
WITNESS_THRESHOLD = 0.0005
COLLECTED = 0.25  # seconds until the monitor has read a callback's timing


def resident_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def material() -> tuple[np.ndarray, int]:
    """The bundled demo's voices mixed with noise: speech in a noisy room, 16 kHz."""
    from livesep.bundled import demo_material_dir

    voice, sr = audio.load(demo_material_dir() / "mix.flac")
    rng = np.random.default_rng(0)
    room = np.convolve(rng.standard_normal(voice.size), np.ones(8) / 8, mode="same")
    return (voice + 0.1 * room).astype(np.float32), sr


def livesep_caused(records: list[tuple[int, float, float, int]], live: FileSeparator,
                   witness: StallWitness, swaps: list[tuple[float, str]]) -> int:
    """How many of the xruns livesep caused (``overran_before``); each is described on
    stderr: its longest callback before it, the preset then running and how long after its
    swap (``swaps``: (time, preset name) in order)."""
    caused = 0
    period = PERIOD / RATE
    for record in records:
        if not overran_before(live, record, period, witness):
            continue
        caused += 1
        times = live.callback_times(range(max(0, record[0] - 16), record[0]))
        longest = times[int(np.nanargmax(times[:, 1] - times[:, 0]))]
        since, name = next(((longest[0] - when, preset) for when, preset in reversed(swaps)
                            if when <= longest[0]), (float("nan"), PRESETS[0]))
        print(f"livesep's xrun: a {1000 * (longest[1] - longest[0]):.2f} ms callback running "
              f"{name!r}, {since:.3f} s after its swap", file=sys.stderr, flush=True)
    return caused


def soak(minutes: int, *, load: bool) -> list[dict[str, float]]:
    cycle = [load_preset(name) for name in PRESETS]
    signal, sr = material()
    hog = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load else None)
    rows: list[dict[str, float]] = []
    try:
        with serving(RATE, PERIOD):
            live = FileSeparator(cycle[0], signal, sr, loop=True, output="stems").start()
            try:
                seen, swaps, gains = 0, 0, 0
                start = time.monotonic()
                swapped = [(start, cycle[0].name)]
                for minute in range(1, minutes + 1):
                    with StallWitness(threshold=WITNESS_THRESHOLD) as witness:
                        while (now := time.monotonic()) < start + 60 * minute:
                            if now >= start + (swaps + 1) * SWAP_EVERY:
                                swaps += 1
                                live.switch_preset(cycle[swaps % len(cycle)])
                                swapped.append((now, cycle[swaps % len(cycle)].name))
                            if now >= start + gains * GAIN_EVERY:
                                live.set_gain("noise", 0.25 if gains % 2 == 0 else 1.0)
                                gains += 1
                            live.wait(timeout=min(0.05, max(0.0, start + 60 * minute - now)))
                    stats = live.stats()
                    records = live.xrun_records()[seen:]
                    seen += len(records)
                    time.sleep(COLLECTED)  # the monitor's next readings hold their callbacks
                    rows.append({
                        "minute": minute, "xruns": len(records),
                        "xruns_livesep": livesep_caused(records, live, witness, swapped),
                        "rss_mib": resident_mib(),
                        "callback_p99_ms": 1000 * stats.callback.p99,
                        "callback_max_ms": 1000 * stats.callback.max,
                        "cpu_load_p99": stats.cpu_load_p99,
                        "latency_ms": 1000 * stats.latency.total,
                        "quality_level": stats.quality_level,
                    })
                    print(format_row(rows[-1]), flush=True)
            finally:
                live.stop()
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return rows


HEADER = (f"{'min':>4} {'xruns':>6} {'livesep':>8} {'RSS MiB':>8} {'cb p99 ms':>10} "
          f"{'cb max ms':>10} {'load p99':>9} {'latency ms':>11} {'quality':>8}")


def format_row(row: dict[str, float]) -> str:
    return (f"{row['minute']:>4} {row['xruns']:>6} {row['xruns_livesep']:>8} "
            f"{row['rss_mib']:>8.1f} {row['callback_p99_ms']:>10.3f} "
            f"{row['callback_max_ms']:>10.3f} {row['cpu_load_p99']:>9.3f} "
            f"{row['latency_ms']:>11.2f} {row['quality_level']:>8}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=5)
    parser.add_argument("--no-load", action="store_true", help="no busy process beside it")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    if not jack_available():
        print("bench_soak: needs jackd (Debian jackd2) and the JACK-Client package",
              file=sys.stderr)
        return 2
    print(f"live host at {RATE} Hz / {PERIOD} frames, presets {' <-> '.join(PRESETS)} "
          f"swapped every {SWAP_EVERY:g} s, gains every {GAIN_EVERY:g} s, "
          f"{'one core kept busy' if not args.no_load else 'no load'}; pid {os.getpid()}")
    print(HEADER, flush=True)
    rows = soak(args.minutes, load=not args.no_load)
    rss = [row["rss_mib"] for row in rows]
    growth = rss[-1] - rss[0] if len(rss) > 1 else 0.0
    latencies = {round(row["latency_ms"], 3) for row in rows}
    print(f"memory growth after the first minute: {growth:+.2f} MiB; latency values seen: "
          f"{sorted(latencies)} ms; xruns {sum(r['xruns'] for r in rows)}, of them livesep's "
          f"{sum(r['xruns_livesep'] for r in rows)}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
