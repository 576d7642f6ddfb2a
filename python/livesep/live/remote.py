"""The audio host in a process of its own, driven by the window over a pipe.

Why not in the window's process: the child keeps everything of the window's (painting,
Qt's event loop, a stalled or crashed window) away from the stream's monitor and recorder
threads, for the price of a pipe (``benchmarks/bench_gui.py`` compares both). The child
runs the unchanged :class:`~livesep.live.host.LiveSeparator` (or
:class:`~livesep.live.fileplay.FileSeparator`) with an idle main thread.

Protocol (a duplex :func:`multiprocessing.Pipe`, ``spawn`` start method: forking a
process that runs Qt threads is unsafe): the window sends ``("start", ...)`` once, then
fire-and-forget controls ``("call", method, args)``, and pulls display data with
``("pop", want_stats)``, at most one request in flight, so neither side can fill the
pipe or wait on the other; ``("stop",)`` is answered with the final statistics.
This module does not import Qt: the child never loads it.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livesep.errors import AudioDeviceError, LivesepError
from livesep.live.stats import LiveStats
from livesep.presets import Preset

__all__ = ["RemoteSeparator", "InProcessSeparator", "Update"]

_CONTROLS = ("set_gain", "set_muted", "set_soloed", "set_strength", "set_bypass",
             "switch_preset")


@dataclass
class Update:
    """One answer to a pull: the snapshots since the last one and the host's state."""

    snapshots: dict[str, np.ndarray]
    state: str
    stats: LiveStats | None = None
    error: LivesepError | None = None
    position: float | None = None
    finished: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class RemoteSeparator:
    """A live (or file-mode) separator running in a child process.

    Parameters
    ----------
    preset : Preset
        The trained sources.
    options : dict
        Keyword arguments of :class:`~livesep.live.host.LiveSeparator` (devices, rate, block
        size, output).
    file : tuple, optional
        ``(signal, rate, loop)``: play this mono signal instead of the input device.
    """

    def __init__(self, preset: Preset, options: dict[str, Any],
                 file: tuple[np.ndarray, int, bool] | None = None) -> None:
        self.preset = preset
        self.options = dict(options)
        self.file = file
        self.state = "stopped"
        self.error: LivesepError | None = None
        self.info: dict[str, Any] = {}
        self.last_stats: LiveStats | None = None
        self.position: float | None = None
        self.finished = False
        self.duration = file[0].size / file[1] if file is not None else None
        self._process: Any = None
        self._conn: Any = None
        self._pending = False

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> RemoteSeparator:
        """Start the child and its stream; blocks until it runs (about a second).

        Raises
        ------
        LivesepError
            What the child's LiveSeparator raised (no device, bad rate ...).
        """
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        self._process = context.Process(target=_serve, args=(theirs,), daemon=True,
                                        name="livesep-audio")
        self._process.start()
        theirs.close()
        self._conn = ours
        self._send(("start", self.preset, self.options, self.file))
        reply = self._wait(timeout, "start")
        if reply[0] != "started":
            self._reap()
            raise reply[1]
        self.info = reply[1]
        self.state = "running"
        return self

    def stop(self, timeout: float = 15.0) -> LiveStats:
        """Stop the stream and the child (idempotent); returns the final statistics."""
        if self._conn is None:
            return self.last_stats or LiveStats(state=self.state, device_rate=0,
                                                engine_rate=self.preset.sr)
        try:
            self._send(("stop",))
            while True:
                reply = self._wait(timeout, "stop")
                if reply[0] == "stopped":
                    self.last_stats = reply[1]
                    break
        except LivesepError as error:
            self.error = self.error or error
        finally:
            self._reap()
        if self.state == "running":
            self.state = "stopped"
        return self.last_stats or LiveStats(state=self.state, device_rate=0,
                                            engine_rate=self.preset.sr)

    def _reap(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        process, self._process = self._process, None
        if process is not None:
            process.join(timeout=5)
            if process.is_alive():  # a wedged device: the child cannot stop its stream
                process.kill()
                process.join(timeout=5)

    # ------------------------------------------------------------------ controls
    def __getattr__(self, name: str) -> Any:
        if name in _CONTROLS:
            return lambda *args: self._control(name, *args)
        raise AttributeError(name)

    def _control(self, method: str, *args: Any) -> None:
        if method == "switch_preset":
            self.preset = args[0]
        if self._conn is not None:
            self._send(("call", method, args))

    def query(self, what: str, timeout: float = 10.0) -> Any:
        """Ask the child something and wait (tests): ``"engine_controls"`` gives each
        source's (gain, muted, soloed) as the engine has them, ``"engine_strength"`` its
        strength, ``"engine_latency"`` its latency in samples."""
        self._drain_pending(timeout)
        self._send(("query", what))
        reply = self._wait(timeout, "query")
        return reply[1]

    # ------------------------------------------------------------------ display data
    def poll(self, *, want_stats: bool = False) -> Update | None:
        """Never blocks: the answer to the previous pull if it arrived (else None), and a
        new pull sent."""
        if self._conn is None:
            return None
        update = None
        if self._pending:
            try:
                if not self._conn.poll():
                    return None
                update = self._take(self._conn.recv())
            except (EOFError, OSError):
                self._died()
                return None
        self._send(("pop", want_stats))
        self._pending = self._conn is not None
        return update

    def _drain_pending(self, timeout: float) -> None:
        if self._pending:
            self._wait(timeout, "update")

    def _take(self, reply: tuple[Any, ...]) -> Update | None:
        self._pending = False
        if reply[0] != "update":
            return None
        update: Update = reply[1]
        self.state = update.state
        if update.error is not None:
            self.error = update.error
        if update.stats is not None:
            self.last_stats = update.stats
        self.position, self.finished = update.position, update.finished
        return update

    # ------------------------------------------------------------------ the pipe
    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._conn.send(message)
        except (OSError, ValueError, AttributeError):
            self._died()

    def _wait(self, timeout: float, what: str) -> tuple[Any, ...]:
        deadline = time.monotonic() + timeout
        while True:
            if self._conn is None:
                raise self.error or AudioDeviceError("the audio process is gone")
            left = deadline - time.monotonic()
            try:
                if left > 0 and self._conn.poll(min(left, 0.1)):
                    reply = self._conn.recv()
                    if reply[0] == "update":
                        self._take(reply)
                        if what == "update":
                            return reply
                        continue
                    return reply
            except (EOFError, OSError):
                self._died()
                continue
            if left <= 0:
                raise AudioDeviceError(f"the audio process did not answer ({what}) within "
                                       f"{timeout:.0f} s")
            if self._process is not None and not self._process.is_alive():
                self._died()

    def _died(self) -> None:
        code = self._process.exitcode if self._process is not None else None
        self.error = self.error or AudioDeviceError(
            f"the audio process ended unexpectedly (exit status {code})")
        self.state = "error"
        self._reap()


class InProcessSeparator:
    """The same interface around a separator in the window's own process: only for
    measuring what the child process buys (benchmarks/bench_gui.py --in-process)."""

    def __init__(self, preset: Preset, options: dict[str, Any],
                 file: tuple[np.ndarray, int, bool] | None = None) -> None:
        self.live = _build(preset, options, file)
        self.preset = preset
        self.duration = file[0].size / file[1] if file is not None else None
        self.last_stats: LiveStats | None = None

    def start(self) -> InProcessSeparator:
        self.live.start()
        return self

    def stop(self) -> LiveStats:
        self.last_stats = self.live.stop()
        return self.last_stats

    def __getattr__(self, name: str) -> Any:
        if name in _CONTROLS or name in ("state", "error", "position", "finished"):
            return getattr(self.live, name)
        raise AttributeError(name)

    def query(self, what: str, timeout: float = 0.0) -> Any:
        return _answer(self.live, what)

    def poll(self, *, want_stats: bool = False) -> Update:
        live = self.live
        stats = live.stats() if want_stats else None
        if stats is not None:
            self.last_stats = stats
        return Update(snapshots=live.pop_snapshots(), state=live.state, stats=stats,
                      error=live.error, position=getattr(live, "position", None),
                      finished=bool(getattr(live, "finished", False)))


# ---------------------------------------------------------------------- the child
def _serve(conn: Any) -> None:
    """The child's main loop: run the stream, answer pulls, obey controls."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        message = conn.recv()
    except EOFError:
        return
    _, preset, options, file = message
    try:
        live = _build(preset, options, file)
        live.start()
    except BaseException as error:  # noqa: BLE001 - every failure goes back as an error
        conn.send(("failed", _portable(error)))
        return
    conn.send(("started", {"device_rate": live.device_rate, "output": live.output,
                           "input": live.input_info.describe(),
                           "output_device": live.output_info.describe()}))
    try:
        _loop(conn, live)
    finally:
        stats = live.stop()
        try:
            conn.send(("stopped", stats))
        except (OSError, ValueError):
            pass


def _owned(preset: Preset) -> Preset:
    """The preset with numpy's own float32 dtype object: an unpickled array carries a new,
    equal dtype instance, which the engine's bindings refuse (they compare dtypes by
    identity)."""
    import dataclasses

    def own(array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(array).astype(np.float32)

    sources = [dataclasses.replace(s, W=own(s.W), A=own(s.A), pi=own(s.pi))
               for s in preset.sources]
    return dataclasses.replace(preset, sources=tuple(sources))


def _build(preset: Preset, options: dict[str, Any], file: Any) -> Any:
    preset = _owned(preset)
    if file is None:
        from livesep.live.host import LiveSeparator

        return LiveSeparator(preset, **options)
    from livesep.live.fileplay import FileSeparator

    signal, rate, loop = file
    return FileSeparator(preset, np.asarray(signal).astype(np.float32), rate, loop=loop,
                         **options)


def _loop(conn: Any, live: Any) -> None:
    pending_error: LivesepError | None = None
    while True:
        try:
            if not conn.poll(0.1):
                continue
            message = conn.recv()
        except (EOFError, OSError):
            return  # the window is gone: stop
        kind = message[0]
        if kind == "stop":
            return
        try:
            if kind == "call":
                args = message[2]
                if message[1] == "switch_preset":
                    args = (_owned(args[0]),)
                getattr(live, message[1])(*args)
            elif kind == "query":
                try:
                    answer = _answer(live, message[1])
                except LivesepError as error:
                    answer = error
                conn.send(("answer", answer))
            elif kind == "pop":
                conn.send(("update", Update(
                    snapshots=live.pop_snapshots(), state=live.state,
                    stats=live.stats() if message[1] else None,
                    error=pending_error or live.error,
                    position=getattr(live, "position", None),
                    finished=bool(getattr(live, "finished", False)))))
                pending_error = None
        except (OSError, ValueError, EOFError):
            return
        except BaseException as error:  # noqa: BLE001 - reported with the next update
            pending_error = _portable(error)


def _answer(live: Any, what: str) -> Any:
    if what == "engine_controls":
        engine = live.engine
        return [(float(engine.gain(s)), bool(engine.muted(s)), bool(engine.soloed(s)))
                for s in range(live.preset.n_sources)]
    if what == "engine_strength":
        return float(live.engine.strength)
    if what == "engine_latency":
        return int(live.engine.latency_samples())
    if what == "preset_name":
        return live.preset.name
    raise LivesepError(f"unknown query {what!r}")


def _portable(error: BaseException) -> LivesepError:
    """An error that pickles and reads well in the window."""
    if isinstance(error, LivesepError):
        return error
    return LivesepError(f"internal error in the audio process: {type(error).__name__}: "
                        f"{error}")
