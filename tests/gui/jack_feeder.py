"""Plays a signal, looped, into every PortAudio input port of a JACK server: the "microphone"
of the enrolment tests (test_enrol.py), run in its own process.

Why every PortAudio client, found as they come: the window's recordings and its stream's
child process each open a PortAudio client of their own, named in the order they start
(``PortAudio``, ``PortAudio-01``…), and a recording's client appears only once it starts.
The dummy backend's capture ports give zeros, so what a client hears is this signal alone.
Why a process of its own: its process callback is Python, and in the test's process it
would wait for the GIL behind the window and the recording.

Usage: ``jack_feeder.py --server NAME --signal SIGNAL.npy``; prints ``ready`` once it plays,
stops when its standard input closes or reads a line.
"""

from __future__ import annotations

import argparse
import sys
import threading

import jack
import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--signal", required=True)
    args = parser.parse_args()
    signal = np.load(args.signal).astype(np.float32)
    looped = np.concatenate([signal, signal])  # any window of a period is one slice
    client = jack.Client("livesep-feeder", servername=args.server, no_start_server=True)
    out = client.outports.register("out")
    position = [0]

    @client.set_process_callback
    def process(frames: int) -> None:
        start = position[0]
        buffer = out.get_array()
        if frames <= signal.size:
            buffer[:] = looped[start:start + frames]
        else:
            buffer[:] = np.resize(np.roll(signal, -start), frames)
        position[0] = (start + frames) % signal.size

    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
    with client:
        print("ready", flush=True)
        while not done.wait(0.02):
            fed = {port.name for port in client.get_all_connections(out)}
            for port in client.get_ports("PortAudio.*:in_", is_audio=True, is_input=True):
                if port.name not in fed:
                    try:
                        client.connect(out, port)
                    except jack.JackError:
                        pass  # the client went away in between
    return 0


if __name__ == "__main__":
    sys.exit(main())
