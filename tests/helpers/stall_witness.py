"""Notes when the machine stalls a real-time thread on one CPU (run by jack_harness.py).

A thread at SCHED_FIFO priority 45 (above the JACK server, 40, and its clients, 35; below the
kernel's threaded interrupts, 50) pinned to one CPU wakes every millisecond. Nothing in the
live tests can delay it, so when it wakes late, the machine did: on a virtual machine, the
host descheduled that CPU. The live tests use these stalls to tell an xrun livesep caused
from one the machine caused. On SIGTERM it prints the stalls as ``start end`` lines
(CLOCK_MONOTONIC seconds, the clock of livesep's callback timings) and exits.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time

PERIOD = 0.001


def main() -> int:
    cpu, threshold = int(sys.argv[1]), float(sys.argv[2])
    os.sched_setaffinity(0, {cpu})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(45))
    except OSError as error:  # without real-time priority it would witness its own delays
        print(f"no real-time priority: {error}", file=sys.stderr)
        return 1
    gc.disable()
    stalls: list[tuple[float, float]] = []
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print("ready", flush=True)
    due = time.monotonic() + PERIOD
    while not stopping:
        time.sleep(max(0.0, due - time.monotonic()))
        woke = time.monotonic()
        if woke - due > threshold:
            stalls.append((due, woke))
        due = max(due + PERIOD, woke)
    sys.stdout.write("".join(f"{start!r} {end!r}\n" for start, end in stalls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
