"""A JACK server with the dummy backend for the live tests, and a second JACK client that
plays a mixture into livesep's input ports and records its output ports.

Why a real server: PortAudio (through sounddevice) then opens a real full-duplex device
with real callbacks, port latencies and xrun reporting, without a sound card
(../shared/DATA.md, "Audio devices without hardware").

Why the player runs in its own process (``jack_player.py``): its process callback is Python
too, and sharing the test process's GIL with livesep's audio callback would measure the
harness instead of livesep.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["JackServer", "PlayResult", "StallWitness", "play_and_record", "jack_available",
           "serving", "overran_before"]

_HERE = Path(__file__).resolve().parent
LIVESEP_CLIENT = "PortAudio"  # the JACK client PortAudio opens for livesep
# jackd writes its messages from a thread that is not real-time: allow them this long.
MESSAGE_DELAY = 0.25
# jackd's xrun messages (jack2): a client late (JackEngine::CheckXRun), or the server's
# own driver thread woken after its next cycle was due (JackTimedDriver::Process).
_LATE_CLIENT = re.compile(r"XRun: client = (?P<unfinished>.+?) was not finished, "
                          r"state = (?P<state>\w+)|XRun: client (?P<finished>.+?) finished after"
                          r"|(?P<driver>JackTimedDriver)::Process XRun")
DRIVER = "the server's driver"
# PortAudio may flag an xrun this long after the late cycle.
NOTICE_DELAY = 0.025


def _die_with_parent() -> None:
    """In the child before exec: have the kernel end jackd when the test process dies, so
    that a killed test run leaves no server behind (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def jack_available() -> bool:
    """Whether jackd and the JACK-Client package are installed."""
    if shutil.which("jackd") is None:
        return False
    try:
        import jack

        del jack
    except (ImportError, OSError):
        return False
    return True


class JackServer:
    """``jackd -d dummy`` under a private server name, stopped for sure on exit.

    Parameters
    ----------
    rate, period : int
        Sample rate and frames per cycle of the dummy backend.
    channels : int
        Capture and playback ports of the ``system`` client (what PortAudio shows as the
        device's channels).
    priority : int
        The server's real-time priority.
    """

    def __init__(self, rate: int, period: int, *, channels: int = 2,
                 priority: int = 40) -> None:
        self.rate, self.period, self.channels = rate, period, channels
        # Real-time priority of the server (its clients run 5 below): above JACK's default
        # of 10, so that other real-time audio on a shared machine (another JACK server and
        # its clients at the defaults) cannot delay this graph; below the kernel's threaded
        # interrupts (50).
        self.priority = priority
        # A private name keeps this server apart from any other on the machine.
        self.name = f"livesep-test-{os.getpid()}-{rate}-{period}-{time.monotonic_ns() % 10**6}"
        self.process: subprocess.Popen[bytes] | None = None
        # What jackd wrote to stderr, as (time.monotonic() on reading, line): read as it
        # comes, so that a long run's messages never fill the pipe and block the server.
        self.log: list[tuple[float, str]] = []
        self._reader: threading.Thread | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point JACK clients (PortAudio too) at this server."""
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1",
                "JACK_NO_AUDIO_RESERVATION": "1"}

    def start(self, timeout: float = 10.0) -> JackServer:
        env = dict(os.environ, **self.env)
        self.process = subprocess.Popen(
            ["jackd", "-n", self.name, "-R", "-P", str(self.priority), "-d", "dummy",
             "-r", str(self.rate),
             "-p", str(self.period), "-C", str(self.channels), "-P", str(self.channels)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_log, args=(self.process.stderr,),
                                        daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                error = "\n".join(line for _, line in self.log)
                raise RuntimeError(f"jackd exited at start: {error[-2000:]}")
            if self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"jackd did not come up within {timeout} s")

    def _ready(self) -> bool:
        import jack

        # Probing before the server is up makes libjack complain on stderr; quiet it.
        jack.set_error_function(lambda message: None)
        jack.set_info_function(lambda message: None)
        try:
            client = jack.Client("livesep-probe", servername=self.name, no_start_server=True)
        except jack.JackOpenError:
            return False
        client.close()
        return True

    def stop(self) -> None:
        """Terminate the server (and kill it if it lingers); never leaves a process."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _read_log(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                self.log.append((time.monotonic(), raw.decode(errors="replace").rstrip()))

    def late_clients(self, start: float, end: float) -> list[tuple[float, str, str]]:
        """The clients jackd blamed for an xrun between ``start`` and ``end`` (monotonic
        seconds, when the message was read), as (when, client, state) once per blame.

        jackd names each client whose process callback had not finished when the next cycle
        began, with its state then: ``Running`` (its callback was running) or ``Triggered``
        (woken but not yet run: its thread did not get the CPU, or was still busy with the
        previous cycle); or, as state ``finished late``, one whose callback finished after
        the next cycle began. When the
        server's own driver thread woke after its next cycle was due (nothing livesep does
        can delay it: it runs at a higher real-time priority than every client), the client
        is ``DRIVER`` and the state ``late``.
        """
        return [(when, DRIVER, "late") if match["driver"] else
                (when, match["unfinished"] or match["finished"], match["state"] or "finished late")
                for when, line in list(self.log)
                if start <= when <= end and (match := _LATE_CLIENT.search(line))]

    def settled_blames(self, start: float, end: float) -> list[tuple[float, str, str]]:
        """:meth:`late_clients` for the xruns between ``start`` and ``end``, once jackd's
        messages about them are in: waits ``MESSAGE_DELAY`` past ``end``."""
        time.sleep(max(0.0, end + MESSAGE_DELAY - time.monotonic()))
        return self.late_clients(start, end + MESSAGE_DELAY)

    def blamed_elsewhere(self, start: float, end: float, *,
                         witness: StallWitness | None = None,
                         client: str = LIVESEP_CLIENT) -> bool:
        """Whether jackd blamed the xruns between ``start`` and ``end`` (monotonic seconds)
        on something other than livesep's work (``client``: livesep's JACK client).

        True when jackd blamed some client, and each time it blamed livesep's client the
        machine had just stalled: ``witness`` saw a stall in the ``MESSAGE_DELAY`` before the
        message, or jackd's own driver woke late then too. The driver runs above every client
        and, the server being asynchronous, never waits for them: only the machine can make it
        late, and a cycle it began late leaves its clients ``Running`` or ``Triggered`` at the
        next. Without that, ``Triggered`` alone is not enough: a callback that overran by more
        than a period leaves its client still busy, hence ``Triggered``, at the next cycle.
        Waits for jackd's messages to come in (:meth:`settled_blames`).
        """
        blamed = self.settled_blames(start, end)
        driver_late = [when for when, client, _ in blamed if client == DRIVER]

        def excused(when: float, blamed_client: str, _state: str) -> bool:
            if blamed_client != client:
                return True
            if witness is not None and witness.stalled_between(when - MESSAGE_DELAY, when):
                return True
            return any(abs(when - late) <= MESSAGE_DELAY for late in driver_late)

        return bool(blamed) and all(excused(*blame) for blame in blamed)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> JackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serving(rate: int, period: int, *, channels: int = 2) -> Iterator[JackServer]:
    """A running server that this process's PortAudio uses; on exit PortAudio is shut
    down *before* the server stops (PortAudio hangs for good if its server vanishes under
    it) and the environment is restored."""
    from livesep.live import devices
    server = JackServer(rate, period, channels=channels).start()
    saved = {name: os.environ.get(name) for name in server.env}
    try:
        os.environ.update(server.env)
        devices.rescan()
        yield server
    finally:
        try:
            devices.terminate()
        finally:
            server.stop()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


class StallWitness:
    """Notes the moments the machine itself stalls real-time threads, on every CPU.

    One ``tests/helpers/stall_witness.py`` process per CPU at a real-time priority above the JACK
    graph's, pinned to its CPU, wakes every millisecond; nothing in a live test can delay
    it, so a late wake-up means the machine stopped that CPU (a virtual machine's host
    descheduling it: several milliseconds, every few seconds, on the machines these tests
    run on). A stall that long at 5.3 ms periods is an xrun, whatever livesep does.

    Parameters
    ----------
    threshold : float
        Lateness in seconds that counts as a stall.

    Attributes
    ----------
    stalls : list of (float, float)
        (due, woke) of each stall on ``time.monotonic``'s clock, after exit.
    available : bool
        False when the witnesses could not run at real-time priority (they then note nothing).
    """

    def __init__(self, threshold: float = 0.0015) -> None:
        self.threshold = threshold
        self.stalls: list[tuple[float, float]] = []
        self.available = True
        self._processes: list[subprocess.Popen[str]] = []

    def __enter__(self) -> StallWitness:
        for cpu in sorted(os.sched_getaffinity(0)):
            process = subprocess.Popen(
                [sys.executable, str(_HERE / "stall_witness.py"), str(cpu), str(self.threshold)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                preexec_fn=_die_with_parent)
            self._processes.append(process)
            if process.stdout is None or process.stdout.readline().strip() != "ready":
                self.available = False
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self._processes:
            process.send_signal(signal.SIGTERM)
        for process in self._processes:
            out, _ = process.communicate(timeout=10)
            self.stalls.extend(tuple(map(float, line.split())) for line in out.splitlines()
                               if len(line.split()) == 2)
        self.stalls.sort()

    def stalled_within(self, start: float, end: float) -> float:
        """Seconds of [start, end] (monotonic) that stalls covered, on any CPU (stalls of
        several CPUs at once counted once)."""
        covered, reach = 0.0, start
        for due, woke in self.stalls:  # sorted by due
            low, high = max(due, reach), min(woke, end)
            if high > low:
                covered += high - low
                reach = high
        return covered

    def stalled_between(self, start: float, end: float) -> bool:
        """Whether a stall overlapped the interval [start, end] (monotonic seconds)."""
        return any(due < end and woke > start for due, woke in self.stalls)


def overran_before(live: Any, record: tuple[int, float, float, int], period: float,
                   witness: StallWitness) -> bool:
    """Whether livesep's own work may have caused the xrun of ``record`` (one of
    ``live.xrun_records()``): one of the callbacks before the flagged one, as far back as
    PortAudio may notice late, took longer than ``period`` seconds besides the time
    ``witness`` saw the machine stalled during it. A callback that did its own work within
    its period was in time: an xrun after it is the machine's or the server's, whatever jackd
    blamed. Read it once the stream's monitor has collected those callbacks' timings (a few
    tenths of a second later).
    """
    index = record[0]
    lookback = int(np.ceil(NOTICE_DELAY / period)) + 2
    times = live.callback_times(range(max(0, index - lookback), index))
    return any(end - start - witness.stalled_within(start, end) > period
               for start, end in times if np.isfinite(start))


@dataclass
class PlayResult:
    """What the player heard and did.

    Attributes
    ----------
    recording : np.ndarray, shape (n, channels)
        livesep's output ports, one row per JACK frame from ``record_start`` on.
    record_start : int
        JACK frame time of the recording's first row.
    play_start : int
        JACK frame time at which the mixture's first sample entered livesep's input port.
    """

    recording: np.ndarray
    record_start: int
    play_start: int

    def at(self, frame: int, length: int) -> np.ndarray:
        """The recorded rows for JACK frames [frame, frame + length)."""
        start = frame - self.record_start
        assert start >= 0 and start + length <= self.recording.shape[0], (start, length)
        return self.recording[start:start + length]


def play_and_record(server: JackServer, mixture: np.ndarray, folder: Path, *,
                    target_channels: int, input_port: int = 0, lead_in: float = 0.5,
                    tail: float = 0.5, client: str = "PortAudio",
                    ports: tuple[str, str] | None = None,
                    start_target: Callable[[], object] | None = None,
                    before_exit: Callable[[], object] | None = None) -> PlayResult:
    """Play ``mixture`` into ``client``'s input port ``input_port`` and record its first
    ``target_channels`` output ports, in a separate process; blocks until done. ``ports``
    names the target's (input, output) port prefixes when they are not ``in_``/``out_``.

    ``start_target`` runs once the player is up and waiting for the target's ports (start
    livesep there: starting a process while livesep streams costs its callback the GIL for
    the fork). ``before_exit`` runs once the recording is complete but while the player is
    still connected (stop livesep there: a client leaving the graph may flag an xrun)."""
    mixture_path = folder / "mixture.npy"
    result_path = folder / "played.npz"
    np.save(mixture_path, np.ascontiguousarray(mixture, dtype=np.float32))
    duration = lead_in + mixture.size / server.rate + tail
    process = subprocess.Popen(
        [sys.executable, str(_HERE / "jack_player.py"), "--server", server.name,
         "--mixture", str(mixture_path), "--out", str(result_path), "--client", client,
         "--channels", str(target_channels), "--input-port", str(input_port),
         "--lead-in", str(lead_in), "--tail", str(tail),
         *(["--input-prefix", ports[0], "--output-prefix", ports[1]] if ports else [])],
        env=dict(os.environ, **server.env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(duration + 40, process.kill)  # never hang the test run
    timer.start()
    lines = []
    try:
        assert process.stdout is not None
        lines.append(process.stdout.readline().strip())
        if lines[-1] == "ready":
            if start_target is not None:
                start_target()
            lines.append(process.stdout.readline().strip())
            if lines[-1] == "recorded" and before_exit is not None:
                before_exit()
        _, error = process.communicate(input="quit\n", timeout=duration + 40)
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0 or lines != ["ready", "recorded"]:
        raise RuntimeError(f"jack_player failed ({process.returncode}, {lines}): "
                           f"{error[-3000:]}")
    with np.load(result_path) as data:
        return PlayResult(recording=data["recording"], record_start=int(data["record_start"]),
                          play_start=int(data["play_start"]))
