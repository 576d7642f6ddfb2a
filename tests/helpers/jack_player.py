"""Plays a mixture into a JACK client's input port and records its output ports.

Run by tests/helpers/jack_harness.py in its own process. Two JACK clients, a player feeding the
target and a recorder fed by it, so that the graph is player → target → recorder and all
three run in the same cycle: a frame the player writes at JACK frame time f comes back from
the target in the recorder's buffer for frame f plus the target's own delay, with no
feedback-loop period in between. Frame times (``last_frame_time``) are shared by every client
of a cycle, which is what aligns the recording with the mixture.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time

import jack
import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--mixture", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--client", default="PortAudio")
    parser.add_argument("--channels", type=int, required=True)
    parser.add_argument("--input-port", type=int, default=0)
    parser.add_argument("--input-prefix", default=None, help="default: CLIENT:in_")
    parser.add_argument("--output-prefix", default=None, help="default: CLIENT:out_")
    parser.add_argument("--lead-in", type=float, default=0.5)
    parser.add_argument("--tail", type=float, default=0.5)
    args = parser.parse_args()

    mixture = np.load(args.mixture).astype(np.float32)
    # The process callbacks below are Python and run on JACK's real-time threads; anything
    # else in this process that holds the GIL delays them. So: no garbage collection pauses
    # (nothing here makes cycles), and the main thread, which holds the GIL while it
    # connects ports, becomes real-time too so that a busy CPU cannot preempt it mid-way.
    gc.disable()
    gc.freeze()
    _prefer_realtime()
    player = jack.Client("livesep-player", servername=args.server, no_start_server=True)
    recorder = jack.Client("livesep-recorder", servername=args.server, no_start_server=True)
    rate = player.samplerate
    out_port = player.outports.register("out")
    in_ports = [recorder.inports.register(f"in_{c}") for c in range(args.channels)]
    total = int((args.lead_in + args.tail) * rate) + mixture.size + 4 * player.blocksize
    recording = np.zeros((total, args.channels), dtype=np.float32)
    recording.fill(0.0)  # fault its pages in now, not in the real-time callback
    state = {"armed": False, "play_start": -1, "record_start": -1, "recorded": 0}
    done = threading.Event()

    @player.set_process_callback
    def play(frames: int) -> None:
        buffer = out_port.get_array()
        buffer.fill(0.0)
        if not state["armed"]:
            return
        now = player.last_frame_time
        if state["play_start"] < 0:
            state["play_start"] = now + int(args.lead_in * rate)
        offset = now - state["play_start"]
        begin, end = max(offset, 0), min(offset + frames, mixture.size)
        if end > begin:
            buffer[begin - offset:end - offset] = mixture[begin:end]

    @recorder.set_process_callback
    def record(frames: int) -> None:
        if state["play_start"] < 0:
            return
        now = recorder.last_frame_time
        if state["record_start"] < 0:
            state["record_start"] = now
        row = now - state["record_start"]
        count = min(frames, total - row)
        if count <= 0:
            done.set()
            return
        for c, port in enumerate(in_ports):
            recording[row:row + count, c] = port.get_array()[:count]
        state["recorded"] = row + count

    # No Python xrun callback here: JACK calls it on a non-real-time thread, which would
    # then hold this process's GIL against the two real-time callbacks above. livesep's
    # PortAudio stream sees every xrun of the graph in its status flags anyway.
    with player, recorder:
        print("ready", flush=True)  # the test starts livesep now; its ports appear below
        targets_in = _wait_for_ports(player, args.input_prefix or f"{args.client}:in_",
                                     is_input=True, count=args.input_port + 1)
        targets_out = _wait_for_ports(player, args.output_prefix or f"{args.client}:out_",
                                      is_input=False, count=len(in_ports))
        target_in = targets_in[args.input_port]
        for source in player.get_all_connections(target_in):
            player.disconnect(source, target_in)
        _connect(player, out_port, target_in)
        for c, port in enumerate(in_ports):
            _connect(recorder, targets_out[c], port)
        time.sleep(0.05)
        state["armed"] = True
        if not done.wait(timeout=total / rate + 20):
            print(f"recording did not finish ({state})", file=sys.stderr)
            return 1
        # Stay connected, and idle, until told to go: a client leaving reorders the JACK
        # graph, which can flag an xrun in the other clients, and so can this process's
        # callbacks waiting for the GIL while the main thread works (saving the result):
        # the test stops livesep first.
        print("recorded", flush=True)
        sys.stdin.readline()
    np.savez(args.out, recording=recording[:state["recorded"]],
             record_start=state["record_start"], play_start=state["play_start"])
    return 0


def _prefer_realtime(priority: int = 1) -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError):
        pass  # not permitted: the test may then see xruns on a loaded machine


def _connect(client: jack.Client, source: jack.Port | str, destination: jack.Port | str,
             *, timeout: float = 10.0) -> None:
    """Connects, waiting for the target to activate: JACK refuses to connect the ports of a
    client that has registered them but is not active yet (jalv, while it loads a state)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.connect(source, destination)
            return
        except jack.JackErrorCode:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wait_for_ports(client: jack.Client, prefix: str, *, is_input: bool, count: int,
                    timeout: float = 10.0) -> list[jack.Port]:
    """The target's first ``count`` ports: a client registers its ports one by one, so
    seeing the first is not seeing them all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ports = [port for port in client.get_ports(is_audio=True, is_input=is_input,
                                                   is_output=not is_input)
                 if port.name.startswith(prefix)]
        if len(ports) >= count:
            return sorted(ports, key=lambda port: (len(port.name), port.name))  # in_2 < in_10
        time.sleep(0.05)
    names = [port.name for port in client.get_ports()]
    raise SystemExit(f"fewer than {count} ports {prefix}* (ports: {names})")


if __name__ == "__main__":
    sys.exit(main())
