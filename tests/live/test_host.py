"""The live host on a real PortAudio device: JACK's dummy backend, a second JACK client
playing a mixture into livesep's input and recording its outputs (tests/helpers/jack_harness.py).

What "the live path computes exactly what the file path computes" means here, precisely:
the device hands the engine zeros until the mixture arrives and the engine's state follows
its dynamics through those zeros, so the file-path reference is ``separate_online`` of what
the engine actually received — recorded by ``record_dir`` and checked to be the mixture,
bit for bit, after K zeros. At 48 kHz with a 16 kHz preset the reference is
``separate_online`` at the device rate, which runs the live path's resamplers over the
whole signal (their output does not depend on chunking). The device output must then equal
that reference to 1e-5 (float32 rounding; it is in fact identical), aligned by JACK frame
times alone — no search — which also checks the latency the stream reports.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import soundfile as sf

from helpers.jack_harness import (
    MESSAGE_DELAY,
    NOTICE_DELAY,
    JackServer,
    PlayResult,
    StallWitness,
    jack_available,
    overran_before,
    play_and_record,
    serving,
)
from helpers.presets import noise, random_preset
from livesep import presets
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.errors import AudioDeviceError, ParameterError
from livesep.live import devices
from livesep.live.host import LiveSeparator
from livesep.live.stats import LiveStats
from livesep.presets import Preset
from livesep.separation.online import separate_online

pytestmark = pytest.mark.skipif(not jack_available(),
                                reason="needs jackd (Debian jackd2) and the JACK-Client package")

SECONDS = 20  # the issue asks for at least 20 s without an xrun per configuration
# A run whose xruns all came from the machine is kept if the first came this late: the file
# path is then checked on the device output before it (and on the callback's recordings).
CLEAN_SECONDS = 8
SETTINGS = EngineSettings()
# Runs of a long streaming test whose xruns came from outside livesep: on some days this VM
# stalls for 5-10 ms every few seconds, and three 20 s runs in a row all met one.
ATTEMPTS = 6


@pytest.fixture(scope="class")
def server(request: pytest.FixtureRequest) -> JackServer:
    with serving(request.cls.RATE, request.cls.PERIOD) as running:
        yield running


@pytest.fixture(scope="module")
def preset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("preset") / "random.npz"
    presets.save(random_preset((3, 4), 4), path)
    return path


def locate(recorded: np.ndarray, mixture: np.ndarray) -> int:
    """Where the mixture starts in what the engine received; asserts it arrived intact."""
    start = int(np.flatnonzero(recorded)[0]) - int(np.flatnonzero(mixture)[0])
    np.testing.assert_array_equal(recorded[start:start + mixture.size], mixture)
    assert not np.any(recorded[:start])
    return start


def expected_output(received: np.ndarray, preset: Preset, live: LiveSeparator) -> np.ndarray:
    """The device output (frames, sources) the file path predicts for what the engine
    received, sample t of the stream at row t."""
    bridge = live.rate_bridge
    delay = (create_separator(preset).latency_samples() if bridge is None
             else bridge.latency_samples)
    stems = separate_online(received, preset, sr=live.device_rate, settings=SETTINGS).T
    shifted = np.zeros_like(stems)
    shifted[delay:] = stems[:stems.shape[0] - delay]  # the path's delay, as reported
    return shifted


def measured_lag(played: PlayResult, mixture: np.ndarray, max_lag: int) -> int:
    """Delay of the output's sum (the stems sum to the mixture) behind the mixture, by
    cross-correlation over two seconds."""
    n = 2 * 16000
    start = played.play_start - played.record_start
    heard = played.recording[start:start + n + max_lag].sum(axis=1)
    scores = [float(np.dot(heard[lag:lag + n], mixture[:n])) for lag in range(max_lag)]
    return int(np.argmax(scores))


Run = TypeVar("Run")


def stream_without_xruns(server: JackServer, tmp_path: Path,
                         stream: Callable[[Path], tuple[LiveSeparator, LiveStats, Run]], *,
                         clean_for: float | None = None
                         ) -> tuple[Path, LiveSeparator, LiveStats, Run, int | None]:
    """``stream(folder)`` while a StallWitness watches the machine; asserts that no xrun was
    livesep's. Returns the run kept and the stream frame its first xrun began at (None:
    none).

    An xrun breaks a run (the graph loses a cycle), but not every xrun is livesep's: the
    virtual machines these tests run on stop a CPU for 5 to 50 milliseconds every few
    seconds (a period at 48 kHz / 256 is 5.3 ms). Whose an xrun was is judged by
    ``JackServer.blamed_elsewhere`` (jackd's blames, its driver waking late, the witness's
    stalls), or by a witnessed stall just before each flagged callback. A run whose every
    xrun came from outside livesep is made again in a new folder, up to ``ATTEMPTS`` runs;
    one with an xrun livesep may have caused fails at once. The run kept has no xrun, or,
    with ``clean_for`` seconds, only outside xruns of which the first came that long after
    the stream began: the caller then checks the clean stretch before it.
    """
    period = server.period / server.rate
    tried: list[str] = []
    for number in range(1, ATTEMPTS + 1):
        folder = tmp_path / f"run{number}"
        folder.mkdir()
        began = time.monotonic()
        with StallWitness() as witness:
            live, stats, result = stream(folder)
        if stats.xruns.total == 0:
            return folder, live, stats, result, None
        ended = time.monotonic()
        elsewhere = server.blamed_elsewhere(began, ended, witness=witness)
        blamed = [blame[1:] for blame in server.settled_blames(began, ended)]
        records = live.xrun_records()  # (callback, start, previous start, flags) per flagged one
        flagged = [round(start - began, 3) for _, start, _, _ in records]
        stalls = [(round(due - began, 3), round(woke - due, 4)) for due, woke in witness.stalls]
        tried.append(f"run {number}: {stats.xruns}; jackd blamed (client, state): "
                     f"{dict(Counter(blamed))}; flagged callbacks at {flagged} s into the run; "
                     f"machine stalls (at, length) {stalls}")
        time.sleep(0.25)  # the monitor has read the flagged callbacks' predecessors by then
        stalled = all(witness.stalled_between(previous - 2 * period - NOTICE_DELAY, start)
                      for _, start, previous, _ in records)
        in_time = not any(overran_before(live, record, period, witness) for record in records)
        outside = elsewhere or stalled or in_time
        if not (records and stats.xruns.resampler_underrun == 0 and outside):
            raise AssertionError("xruns livesep may have caused:\n" + "\n".join(tried))
        first = records[0][0] * server.period
        if clean_for is not None and first >= clean_for * server.rate:
            return folder, live, stats, result, first
    raise AssertionError(f"every one of {ATTEMPTS} runs met xruns from outside livesep, so "
                         "none could be kept:\n" + "\n".join(tried))


def run_against_file_path(server: JackServer, tmp_path: Path, *, input_channel: int) -> None:
    preset = random_preset((3, 4), 4)
    mixture = noise(SECONDS * server.rate, seed=3)

    def stream(folder: Path) -> tuple[LiveSeparator, LiveStats, PlayResult]:
        live = LiveSeparator(preset, settings=SETTINGS, record_dir=folder / "rec",
                             input_channel=input_channel, output="stems")
        try:
            played = play_and_record(server, mixture, folder, target_channels=2,
                                     input_port=input_channel, start_target=live.start,
                                     before_exit=live.stop)
        finally:
            stats = live.stop()
        return live, stats, played

    folder, live, stats, played, xrun_frame = stream_without_xruns(server, tmp_path, stream,
                                                                   clean_for=CLEAN_SECONDS)
    assert live.device_rate == server.rate and live.error is None
    assert stats.recorder_dropped == 0
    received = sf.read(folder / "rec" / "input.wav", dtype="float32")[0]
    # What the callback did, from the first sample to the last, always equals the file path.
    recorded = np.stack([sf.read(folder / "rec" / f"{name}.wav", dtype="float32")[0]
                         for name in preset.source_names], axis=1)
    want = expected_output(received, preset, live)
    np.testing.assert_allclose(recorded, want, rtol=0, atol=1e-5)
    # What the device delivered: all of it after a clean run, else up to the first xrun.
    k = int(np.flatnonzero(received)[0]) - int(np.flatnonzero(mixture)[0])
    # The flag can come a few periods after the cycle the machine lost: keep 0.1 s clear.
    n = (mixture.size if xrun_frame is None
         else min(mixture.size, xrun_frame - k - server.rate // 10))
    assert n >= CLEAN_SECONDS * server.rate // 2
    k = locate(received, mixture[:n])
    got = played.at(played.play_start, n)
    np.testing.assert_allclose(got, want[k:k + n], rtol=0, atol=1e-5)
    for s in range(preset.n_sources):  # the recording holds what was played
        np.testing.assert_array_equal(recorded[k:k + n, s], got[:, s])
    reported = (stats.latency.algorithmic + stats.latency.resampling) * server.rate
    lag = measured_lag(played, mixture, max_lag=int(0.1 * server.rate))
    assert abs(lag - reported) <= 1.0, (lag, reported)
    assert stats.latency.total >= stats.latency.algorithmic + stats.latency.resampling
    assert stats.callbacks >= SECONDS * server.rate / server.period
    assert stats.period.median == pytest.approx(server.period / server.rate, rel=0.05)
    assert 0 < stats.cpu_load < 0.5 and stats.engine.max < stats.callback.max


def default_preset_banner(server: JackServer) -> str:
    """The banner of ``livesep live`` without ``--preset`` on ``server``."""
    done = subprocess.run([sys.executable, "-m", "livesep.cli", "live", "--duration", "0.3"],
                          env=dict(os.environ, **server.env), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[0]


class TestAt48kWith16kPreset:
    RATE, PERIOD = 48000, 256

    def test_live_path_equals_file_path(self, server: JackServer, tmp_path: Path) -> None:
        run_against_file_path(server, tmp_path, input_channel=0)

    def test_without_a_preset_the_full_band_default_runs_at_the_device_rate(
            self, server: JackServer) -> None:
        banner = default_preset_banner(server)
        assert banner.startswith("livesep live: voice-48k (speech, noise)"), banner
        assert "at 48000 Hz; latency" in banner and "resampled" not in banner, banner

    @pytest.mark.parametrize("options, message", [
        ({"input_device": "nosuch"}, "no input device matches 'nosuch'"),
        ({"output_device": 7}, "no audio device number 7"),
        ({"samplerate": 44100}, "does not support 44100 Hz (its default rate is 48000 Hz)"),
        ({"input_channel": 5}, "input_channel 5 does not exist"),
    ])
    def test_device_problems_are_clear(self, server: JackServer, options: dict[str, object],
                                       message: str) -> None:
        with pytest.raises(AudioDeviceError, match=None) as raised:
            LiveSeparator(random_preset((3, 4), 4), **options).start()
        assert message in str(raised.value)

    def test_stems_need_a_channel_per_source(self, server: JackServer) -> None:
        with pytest.raises(AudioDeviceError, match="use output=.stereo."):
            LiveSeparator(random_preset((2, 2, 2), 3), output="stems").start()
        began = time.monotonic()
        with StallWitness() as witness:
            live = LiveSeparator(random_preset((2, 2, 2), 3), output="auto").start()
            try:
                assert live.output == "stereo"
                time.sleep(0.3)
            finally:
                xruns = live.stop().xruns
        assert xruns.total == 0 or server.blamed_elsewhere(
            began, time.monotonic(), witness=witness), xruns

    def test_stereo_remix_while_recording_three_stems(self, server: JackServer,
                                                      tmp_path: Path) -> None:
        preset = random_preset((2, 2, 2), 3)
        mixture = noise(3 * server.rate, seed=9)

        def stream(folder: Path) -> tuple[LiveSeparator, LiveStats, PlayResult]:
            live = LiveSeparator(preset, output="stereo", record_dir=folder / "rec")
            played = play_and_record(server, mixture, folder, target_channels=2,
                                     start_target=live.start, before_exit=live.stop)
            return live, live.stop(), played

        folder, _, _, played, _ = stream_without_xruns(server, tmp_path, stream)
        received = sf.read(folder / "rec" / "input.wav", dtype="float32")[0]
        k = locate(received, mixture)
        stems = np.stack([sf.read(folder / "rec" / f"{name}.wav", dtype="float32")[0]
                          for name in preset.source_names], axis=1)
        heard = played.at(played.play_start, mixture.size)
        remix = stems[k:k + mixture.size].sum(axis=1)
        for channel in range(2):  # both channels carry the sum of the recorded stems
            np.testing.assert_allclose(heard[:, channel], remix, rtol=0, atol=1e-6)

    def test_devices_lists_the_jack_device(self, server: JackServer,
                                           capsys: pytest.CaptureFixture[str]) -> None:
        from livesep.cli import main

        assert main(["devices"]) == 0
        out = capsys.readouterr().out
        assert "system" in out and "JACK" in out

    @pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
    def test_stop_signals_end_cleanly_and_finish_recordings(
            self, server: JackServer, preset_file: Path, tmp_path: Path, how: int) -> None:
        began = time.monotonic()
        with StallWitness() as witness:
            process = start_cli(server, preset_file, "--record", str(tmp_path / "rec"))
            time.sleep(1.5)
            process.send_signal(how)
            out, err = finish(process, timeout=15)
        assert process.returncode == 0, err
        assert err == ""
        stopped = re.search(r"livesep live: stopped after [\d.]+ s; (\d+) xruns", out)
        assert stopped, out
        assert stopped.group(1) == "0" or server.blamed_elsewhere(
            began, time.monotonic(), witness=witness), out
        lengths = {sf.info(str(path)).frames for path in (tmp_path / "rec").glob("*.wav")}
        assert len(lengths) == 1 and lengths.pop() > server.rate

    def test_a_used_recording_folder_is_one_line_and_left_alone(
            self, server: JackServer, preset_file: Path, tmp_path: Path) -> None:
        folder = tmp_path / "rec"
        folder.mkdir()
        (folder / "source1.wav").write_bytes(b"an earlier take")
        done = subprocess.run([sys.executable, "-m", "livesep.cli", "live", "--preset",
                               str(preset_file), "--record", str(folder)],
                              env=dict(os.environ, **server.env), capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "source1.wav: already exists" in lines[0], done.stderr
        assert [p.name for p in folder.iterdir()] == ["source1.wav"]
        assert (folder / "source1.wav").read_bytes() == b"an earlier take"

    def test_a_failed_start_leaves_no_recordings(self, server: JackServer,
                                                 tmp_path: Path) -> None:
        live = LiveSeparator(random_preset((2, 2, 2), 3), output="stems",
                             record_dir=tmp_path / "rec")
        with pytest.raises(AudioDeviceError, match="use output=.stereo."):
            live.start()
        assert not list((tmp_path / "rec").glob("*.wav"))
        assert live.stop().xruns.total == 0
        live = LiveSeparator(random_preset((2, 2, 2), 3), output="stereo",
                             record_dir=tmp_path / "rec").start()  # the folder is free again
        assert live.stop().state == "stopped"

    def test_a_crash_keeps_what_was_recorded(self, server: JackServer, preset_file: Path,
                                             tmp_path: Path) -> None:
        from scipy.io import wavfile

        process = start_cli(server, preset_file, "--record", str(tmp_path / "rec"))
        time.sleep(2.0)
        process.kill()
        finish(process, timeout=15)
        files = sorted((tmp_path / "rec").glob("*.wav"))
        assert [path.stem for path in files] == ["input", "source0", "source1"]
        for path in files:  # readers that trust the header (scipy) see the audio too
            with warnings.catch_warnings():  # libsndfile's PEAK chunk is unknown to scipy
                warnings.simplefilter("ignore", wavfile.WavFileWarning)
                rate, data = wavfile.read(path)
            assert rate == server.rate and data.size >= server.rate


def start_cli(server: JackServer, preset_file: Path, *extra: str) -> subprocess.Popen[str]:
    """``livesep live`` in its own process; returns once its banner says it runs."""
    process = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "livesep.cli", "live", "--preset",
         str(preset_file), *extra],
        env=dict(os.environ, **server.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    banner = process.stdout.readline()
    assert banner.startswith("livesep live:"), (banner, process.stderr.read())
    return process


def finish(process: subprocess.Popen[str], *, timeout: float) -> tuple[str, str]:
    """The process's (stdout, stderr) once it exits; fails with every thread's stack (the
    child runs with -X faulthandler, which prints them on SIGABRT) if it hangs."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        out, err = process.communicate(timeout=30)
        pytest.fail(f"still running {timeout} s later; stdout:\n{out}\nstderr:\n{err}")


class TestAt16k:
    RATE, PERIOD = 16000, 128

    def test_without_a_preset_the_default_runs_at_the_device_rate(
            self, server: JackServer) -> None:
        banner = default_preset_banner(server)
        assert banner.startswith("livesep live: voice (speech, noise)"), banner
        assert "at 16000 Hz; latency" in banner and "resampled" not in banner, banner

    def test_live_path_equals_file_path(self, server: JackServer, tmp_path: Path) -> None:
        run_against_file_path(server, tmp_path, input_channel=1)

    def test_preset_switch_and_controls_without_xruns(self, server: JackServer,
                                                      tmp_path: Path) -> None:
        first = random_preset((3, 4), 4, seed=0)
        second = random_preset((3, 4), 4, seed=1)
        mixture = noise(7 * server.rate, seed=5)

        def stream(folder: Path
                   ) -> tuple[LiveSeparator, LiveStats, tuple[PlayResult | None, dict[str, int]]]:
            live = LiveSeparator(first, settings=SETTINGS, record_dir=folder / "rec")
            results = in_background(lambda: play_and_record(
                server, mixture, folder, target_channels=2, lead_in=0.5,
                start_target=live.start, before_exit=live.stop))
            marks: dict[str, int] = {}
            try:
                wait_until_running(live)
                time.sleep(2.0)
                # Frame counts read before a control (nothing earlier can show it) or after it
                # (everything later does): bounds that hold however the threads are scheduled.
                marks["first_block"] = live.frames_processed // server.period
                live.switch_preset(second)
                marks["last_block"] = live.frames_processed // server.period + 1
                with pytest.raises(ParameterError, match="needs a restart"):
                    live.switch_preset(random_preset((3, 4), 4, sr=8000))
                time.sleep(1.5)
                marks["control_frame"] = live.frames_processed
                live.set_gain(0, 0.5)
                live.set_muted("source1", True)
                marks["muted_frame"] = live.frames_processed
                time.sleep(1.0)
                marks["mute_end"] = live.frames_processed
                time.sleep(1.0)
                live.set_bypass(True)
                marks["bypass_frame"] = live.frames_processed
                results.join()
            finally:
                stats = live.stop()
            return live, stats, (results.value, marks)

        folder, _, _, (played, marks), _ = stream_without_xruns(server, tmp_path, stream)
        assert played is not None
        first_block, last_block = marks["first_block"], marks["last_block"]
        control_frame, muted_frame = marks["control_frame"], marks["muted_frame"]
        mute_end, bypass_frame = marks["mute_end"], marks["bypass_frame"]
        received = sf.read(folder / "rec" / "input.wav", dtype="float32")[0]
        k = locate(received, mixture)
        start = played.play_start - k  # JACK frame of the stream's first sample

        def heard(begin: int, end: int) -> np.ndarray:  # output samples [begin, end) of the stream
            return played.at(start + begin, end - begin)

        latency = create_separator(first).latency_samples()
        begin = max(latency, played.record_start - start)
        # Exactly one block boundary reproduces the output: model 1 before, model 2 after.
        matches = [block for block in range(first_block, last_block + 1)
                   if np.allclose(swapped_run(first, second, received, block * server.period,
                                              control_frame)[begin:],
                                  heard(begin, control_frame), rtol=0, atol=1e-5)]
        assert len(matches) == 1, matches
        # Muted source: silence once the mute has passed through the engine's latency.
        assert not np.any(heard(muted_frame + 2 * latency, mute_end)[:, 1])
        # Bypass: every channel carries the input, delayed by the engine's latency.
        settle = bypass_frame + 2 * latency + server.period
        end = k + mixture.size
        for channel in range(2):
            np.testing.assert_allclose(heard(settle, end)[:, channel],
                                       received[settle - latency:end - latency],
                                       rtol=0, atol=1e-5)

    def test_overload_lowers_quality_and_says_so(self, server: JackServer,
                                                 tmp_path: Path) -> None:
        heavy = random_preset((16, 16), 8)
        n_iter = iterations_for_load(heavy, load=1.3)
        live = LiveSeparator(heavy, settings=EngineSettings(n_iter=n_iter, beam=0))
        late: list[LiveStats] = []
        with StallWitness() as witness:
            results = in_background(lambda: play_and_record(
                server, noise(12 * server.rate), tmp_path, target_channels=2, lead_in=0.3,
                start_target=live.start, before_exit=lambda: late.append(live.stats())))
            try:
                wait_until_running(live)
                time.sleep(8.0)  # the mixture plays from ~0.5 s on: overload, then degraded
                middle, middle_at = live.stats(), time.monotonic()
                results.join()
            finally:
                stats = live.stop()
            ended = time.monotonic()
        assert results.value is not None and stats.quality_level >= 1
        assert any("quality lowered" in event for event in stats.events), stats.events
        assert stats.n_iter < n_iter
        # Degraded, the engine has room: the last 4 s run without xruns. This VM sometimes
        # slows a callback 2-3 times without stopping it (the witness sees no stall), so up
        # to 3 xruns are let pass if the governor answered them by lowering the quality once
        # more; an overload it failed to end gives an xrun every few callbacks.
        after = late[0].xruns.input_overflow - middle.xruns.input_overflow
        if after and not server.blamed_elsewhere(middle_at, ended, witness=witness):
            blamed = [(round(when - middle_at, 3), client, state)
                      for when, client, state in server.late_clients(middle_at, ended)]
            stalls = [(round(due - middle_at, 3), round(woke - due, 4))
                      for due, woke in witness.stalls if due >= middle_at - MESSAGE_DELAY]
            assert after <= 3 and stats.quality_level > middle.quality_level, (
                f"xruns went on after degrading: {middle.xruns} -> {late[0].xruns}, quality "
                f"level {middle.quality_level} -> {stats.quality_level}; jackd blamed (s after, "
                f"client, state) {blamed}; machine stalls (s after, length) {stalls}; events "
                f"{stats.events}")


class in_background:  # noqa: N801 - used like a function
    """Run fn on a thread; ``join()`` re-raises its exception, ``value`` is its result."""

    def __init__(self, fn: Callable[[], PlayResult]) -> None:
        self.value: PlayResult | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[[], PlayResult]) -> None:
        try:
            self.value = fn()
        except BaseException as error:  # handed to the test thread by join()
            self.error = error

    def join(self) -> None:
        self.thread.join(timeout=90)
        if self.error is not None:
            raise self.error


def iterations_for_load(preset: Preset, *, load: float) -> int:
    """Iterations per fit (exact filtering) that make a frame cost about ``load`` times its
    period on this machine, measured here: a fixed count would stop overloading a faster
    engine or machine."""
    probe_iterations = 20
    separator = create_separator(preset, settings=EngineSettings(n_iter=probe_iterations, beam=0))
    x = noise(preset.n_fft + 40 * preset.hop_length)
    separator.process(x[:preset.n_fft])
    start = time.perf_counter()
    separator.process(x[preset.n_fft:])
    per_iteration = (time.perf_counter() - start) / 40 / probe_iterations
    return int(np.ceil(load * preset.hop_length / preset.sr / per_iteration))


def wait_until_running(live: LiveSeparator, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while live.state != "running":
        assert time.monotonic() < deadline, "livesep did not start"
        time.sleep(0.01)


def swapped_run(first: Preset, second: Preset, x: np.ndarray, at: int, end: int) -> np.ndarray:
    """The engine's raw output for x[:end] with the second preset swapped in at sample at."""
    separator = create_separator(first, settings=SETTINGS)
    before = separator.process(np.ascontiguousarray(x[:at]))
    separator.swap_model(build_model(second, SETTINGS), mask_power=SETTINGS.mask_power)
    after = separator.process(np.ascontiguousarray(x[at:end]))
    return np.concatenate([before, after], axis=1).T


def test_no_server_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"livesep-absent-{os.getpid()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    devices.rescan()
    try:
        with pytest.raises(AudioDeviceError, match="no audio devices"):
            LiveSeparator(random_preset((3, 4), 4)).start()
    finally:
        devices.terminate()


@pytest.mark.parametrize("command", [["live", "--preset", "{preset}"], ["devices"]])
def test_cli_without_server_is_one_line(command: list[str], preset_file: Path) -> None:
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"livesep-absent-{os.getpid()}",
               JACK_NO_START_SERVER="1")
    done = subprocess.run([sys.executable, "-m", "livesep.cli",
                           *[part.format(preset=preset_file) for part in command]],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no audio devices" in lines[0], done.stderr


def test_device_lost_mid_stream_is_one_line_and_no_hang(preset_file: Path) -> None:
    with JackServer(48000, 256) as server:
        process = start_cli(server, preset_file)
        time.sleep(1.0)
        server.stop()
        out, err = finish(process, timeout=20)
    assert process.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "stopped delivering audio" in lines[0], err
