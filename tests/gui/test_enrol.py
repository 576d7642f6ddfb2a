""""Learn my voice" and "Learn my room" in the desktop app, offscreen (pytest-qt): the takes
from files, the checks on them, the steps, saving, and the personal preset joining the list;
and on JACK's dummy server (tests/helpers/jack_harness.py) the takes recorded from the input
while a stream runs, which then runs the new preset without having stopped.

The base is a tiny random N-HMM preset of sources named speech and noise (enrolment keeps
its model of a recording skipped). The recordings from the input are shorter than the real
ones through the dialog's ``seconds`` and ``least``, and enrolment's own minimums are lowered
to match.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PyQt6 import QtCore, QtWidgets  # noqa: E402

from helpers.jack_harness import JackServer, StallWitness, jack_available  # noqa: E402
from helpers.presets import noise, random_preset  # noqa: E402
from livesep import audio, presets  # noqa: E402
from livesep.errors import PresetError  # noqa: E402
from livesep.gui.app import demo_arguments  # noqa: E402
from livesep.gui.enrol_dialog import EnrolDialog  # noqa: E402
from livesep.gui.window import MainWindow  # noqa: E402
from livesep.live.learning import READING_TEXT, voice_base  # noqa: E402
from livesep.models.train import ENROLMENT_BASE  # noqa: E402
from livesep.presets.shipped import resolve_preset  # noqa: E402

HERE = Path(__file__).resolve().parent
LEFT = QtCore.Qt.MouseButton.LeftButton
needs_jack = pytest.mark.skipif(not jack_available(),
                                reason="needs jackd (Debian jackd2) and the JACK-Client package")


def dialogs(widget: QtWidgets.QWidget) -> list[str]:
    """The texts of the message boxes open over ``widget``."""
    return [box.text() for box in widget.findChildren(QtWidgets.QMessageBox)
            if box.isVisible()]


def close_dialogs(widget: QtWidgets.QWidget) -> None:
    for box in widget.findChildren(QtWidgets.QMessageBox):
        box.close()


def opened(window: MainWindow) -> EnrolDialog:
    """The enrolment dialog open over the window."""
    found = [d for d in window.findChildren(EnrolDialog) if d.isVisible()]
    assert len(found) == 1
    return found[0]


def demo_voice(sr: int) -> np.ndarray:
    """The demo's two voices one after the other: 12 s of speech."""
    folder = demo_arguments()[1].parent
    return np.concatenate([audio.load(folder / f"{name}.flac", sr=sr)[0]
                           for name in ("male", "female")])


@pytest.fixture
def tiny_voice(tmp_path: Path) -> Path:
    """A small N-HMM preset of sources speech and noise: a base enrolment takes."""
    preset = random_preset((3, 2), 4)
    sources = [source.renamed(name) for source, name in zip(preset.sources, ("speech", "noise"))]
    return presets.save(preset.with_sources(sources, name="tiny-voice"),
                        tmp_path / "tiny-voice.npz")


@pytest.fixture
def recordings(tmp_path: Path) -> dict[str, Path]:
    """12 s of voice at 22050 Hz (another rate than the preset's) and 4 s of a room."""
    return {"voice": audio.write(tmp_path / "voice.wav", demo_voice(22050), sr=22050),
            "room": audio.write(tmp_path / "room.wav", noise(4 * 16000, seed=3), sr=16000)}


def take_file(qtbot: Any, panel: Any, path: Path) -> None:
    panel.use_file(path)
    qtbot.waitUntil(lambda: not panel.running, timeout=10000)


# ---------------------------------------------------------------------- from files
def test_my_voice_and_room_from_files_make_a_preset_that_is_listed_and_chosen(
        qtbot: Any, window: MainWindow, tiny_voice: Path, recordings: dict[str, Path],
        tmp_path: Path) -> None:
    window.settings.setValue("folders/enrol", str(tmp_path / "mine"))
    assert window.preset_panel.open_file(tiny_voice)
    qtbot.mouseClick(window.preset_panel.voice_button, LEFT)
    dialog = opened(window)
    assert dialog.step == "voice" and dialog.windowTitle() == "Learn my voice"
    assert dialog.base.currentData() == str(tiny_voice.resolve())  # the chosen voice preset
    assert dialog.reading.toPlainText() == READING_TEXT
    assert dialog.next_button.text() == "Skip ›" and not dialog.back_button.isVisible()
    take_file(qtbot, dialog.voice, recordings["voice"])
    samples, rate = dialog.voice.take
    assert rate == 22050 and samples.size == 12 * 22050
    assert dialog.voice.status.text().startswith("✓ 12.0 s of your voice from voice.wav")
    assert dialog.next_button.text() == "Next ›"
    qtbot.mouseClick(dialog.next_button, LEFT)
    assert dialog.step == "room"
    take_file(qtbot, dialog.room, recordings["room"])
    qtbot.mouseClick(dialog.next_button, LEFT)
    assert dialog.step == "build" and dialog.build_button.isEnabled()
    assert "your voice: 12.0 s from voice.wav" in dialog.summary.text()
    assert dialog.out.text() == str(tmp_path / "mine" / "my-voice.npz")
    with qtbot.waitSignal(dialog.preset_saved, timeout=60000) as saved:
        qtbot.mouseClick(dialog.build_button, LEFT)
    path = saved.args[0]
    assert path == tmp_path / "mine" / "my-voice.npz"
    mine, base = presets.load(path), presets.load(tiny_voice)
    assert mine.name == "my-voice" and mine.source_names == ("speech", "noise")
    assert mine.description == "'tiny-voice' taught a voice and a room"
    assert [s.provenance["enrolled"] for s in mine.sources] == ["voice", "room"]
    assert [s.n_states for s in mine.sources] != [s.n_states for s in base.sources]
    assert len(dialog.fractions) >= 5 and dialog.fractions[-1] == pytest.approx(1.0)
    assert dialog.fractions == sorted(dialog.fractions)
    assert dialog.progress.value() == 1000 and "saved" in dialog.status.text()
    # Listed and chosen: the window now runs it.
    assert window.preset_panel.path == path.resolve()
    assert window.preset_panel.preset.name == "my-voice"
    assert [s.name for s in window.strips.strips] == ["speech", "noise"]
    assert window.settings.value("folders/enrol") == str(tmp_path / "mine")
    assert not dialogs(window) and not dialogs(dialog)
    dialog.close()


def test_with_a_full_band_preset_at_48k_the_personal_preset_is_full_band_too(
        qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    # It then swaps into a stream running voice-48k (the same frames) without a restart.
    panel = window.audio_panel
    panel.rate.setCurrentIndex(panel.rate.findData(16000))
    assert window.preset_panel.open_file(resolve_preset("voice-48k"))
    assert window.open_enrol_dialog().full_band is None  # the audio at 16 kHz
    close_dialogs(window)
    panel.rate.setCurrentIndex(panel.rate.findData(48000))
    dialog = window.open_enrol_dialog()
    assert dialog.full_band == 48000 and dialog.voice.rate == dialog.room.rate == 48000
    hiss = np.random.default_rng(3).standard_normal(4 * 48000).astype(np.float32)
    take_file(qtbot, dialog.voice, audio.write(tmp_path / "me.wav", demo_voice(48000),
                                               sr=48000))
    take_file(qtbot, dialog.room, audio.write(tmp_path / "room.wav", 0.05 * hiss, sr=48000))
    dialog.out.setText(str(tmp_path / "my-voice.npz"))
    dialog.out.setModified(True)
    with qtbot.waitSignal(dialog.preset_saved, timeout=60000) as saved:
        qtbot.mouseClick(dialog.build_button, LEFT)
    mine = presets.load(saved.args[0])
    assert (mine.sr, mine.n_fft, mine.hop_length, mine.fit_bins) == (48000, 1536, 384, 257)
    assert window.preset_panel.path == Path(saved.args[0]).resolve()
    # One take only: the base's rate.
    dialog.room.take = None
    dialog.room.changed.emit()
    dialog.out.setText(str(tmp_path / "voice-only.npz"))
    assert dialog.build_button.isEnabled()
    with qtbot.waitSignal(dialog.preset_saved, timeout=60000) as saved:
        qtbot.mouseClick(dialog.build_button, LEFT)
    assert presets.load(saved.args[0]).sr == 16000
    assert not dialogs(window) and not dialogs(dialog)
    dialog.close()


def test_learn_my_room_opens_at_the_room_and_one_step_may_be_skipped_not_both(
        qtbot: Any, window: MainWindow, tiny_voice: Path, recordings: dict[str, Path],
        tmp_path: Path) -> None:
    window.settings.setValue("folders/enrol", str(tmp_path))
    assert window.preset_panel.open_file(tiny_voice)
    qtbot.mouseClick(window.preset_panel.room_button, LEFT)
    dialog = opened(window)
    assert dialog.step == "room" and dialog.windowTitle() == "Learn my room"
    assert not dialog.next_button.isEnabled()  # nothing recorded: both cannot be skipped
    assert "record your voice or your room" in dialog.next_button.toolTip()
    qtbot.mouseClick(dialog.back_button, LEFT)
    assert dialog.step == "voice" and dialog.next_button.isEnabled()
    qtbot.mouseClick(dialog.next_button, LEFT)  # skip the voice
    assert dialog.step == "room" and not dialog.next_button.isEnabled()
    take_file(qtbot, dialog.room, recordings["room"])
    assert dialog.next_button.isEnabled() and dialog.next_button.text() == "Next ›"
    qtbot.mouseClick(dialog.next_button, LEFT)
    assert dialog.out.text() == str(tmp_path / "my-room.npz")
    assert "your voice: skipped" in dialog.summary.text()
    with qtbot.waitSignal(dialog.preset_saved, timeout=60000) as saved:
        dialog.build()
    mine = presets.load(saved.args[0])
    assert mine.description == "'tiny-voice' taught a room"
    assert mine.sources[0] == presets.load(tiny_voice).sources[0]  # the base's speech
    assert mine.sources[1].provenance["enrolled"] == "room"
    assert window.preset_panel.path == Path(saved.args[0]).resolve()
    dialog.close()


def test_a_silent_short_or_unreadable_take_is_refused_with_a_dialog(
        qtbot: Any, window: MainWindow, tiny_voice: Path, tmp_path: Path) -> None:
    silent = audio.write(tmp_path / "silent.wav", np.zeros(12 * 16000), sr=16000)
    short = audio.write(tmp_path / "short.wav", noise(2 * 16000), sr=16000)
    assert window.preset_panel.open_file(tiny_voice)
    dialog = window.open_enrol_dialog()
    panel = dialog.voice
    for path, expected in (
            (silent, "the voice recording is silent: no sound came from silent.wav. Check "
                     "that the microphone is connected"),
            (short, "short.wav gave 2.0 s of the voice; at least 10 s is needed"),
            (tmp_path / "gone.wav", "gone.wav")):
        take_file(qtbot, panel, path)
        texts = dialogs(dialog)
        assert len(texts) == 1 and expected in texts[0], texts
        assert panel.take is None and dialog.next_button.text() == "Skip ›"
        close_dialogs(dialog)
    assert panel.record_button.isEnabled() and panel.file_button.isEnabled()
    dialog.close()


def test_an_existing_preset_file_is_replaced_only_when_asked(
        qtbot: Any, window: MainWindow, tiny_voice: Path, recordings: dict[str, Path],
        tmp_path: Path) -> None:
    assert window.preset_panel.open_file(tiny_voice)
    dialog = window.open_enrol_dialog(step="room")
    take_file(qtbot, dialog.room, recordings["room"])
    dialog.go("build")
    existing = tmp_path / "mine.npz"
    existing.write_bytes(b"keep me")
    dialog.out.setText(str(existing))
    dialog.out.setModified(True)

    def answer(button: QtWidgets.QMessageBox.StandardButton) -> None:
        boxes = [box for box in dialog.findChildren(QtWidgets.QMessageBox) if box.isVisible()]
        assert len(boxes) == 1 and "mine.npz already exists" in boxes[0].text()
        boxes[0].button(button).click()

    dialog.build()
    answer(QtWidgets.QMessageBox.StandardButton.No)
    assert dialog.task is None and existing.read_bytes() == b"keep me"
    with qtbot.waitSignal(dialog.preset_saved, timeout=60000):
        dialog.build()
        answer(QtWidgets.QMessageBox.StandardButton.Yes)
    assert presets.load(existing).name == "mine"
    dialog.close()


def test_the_base_is_the_chosen_preset_if_it_can_be_else_enrolments_default(
        qtbot: Any, window: MainWindow, tiny_voice: Path) -> None:
    default = resolve_preset(ENROLMENT_BASE).resolve()
    assert voice_base(presets.load_meta(default))
    assert window.preset_panel.preset.name == "male-female-nhmm"  # not a voice preset
    dialog = window.open_enrol_dialog()
    assert dialog.base.currentData() == str(default)
    assert "the default base" in dialog.base.currentText()
    dialog.close()
    window.preset_panel.open_file(tiny_voice)
    dialog = window.open_enrol_dialog()
    assert dialog.base.currentData() == str(tiny_voice.resolve())
    assert dialog.base.count() == 2  # the default stays a choice
    dialog.close()


def test_without_a_voice_preset_to_teach_the_dialog_says_so_at_once(
        qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    def missing(spec: str) -> Path:
        raise PresetError(f"{spec}: no such preset")

    monkeypatch.setattr("livesep.gui.enrol_dialog.resolve_preset", missing)
    listed = [resolve_preset(name) for name in ("male-female-nhmm", "voice")]
    dialog = EnrolDialog(window, base_presets=listed, current=listed[0], folder=tmp_path)
    dialog.open()
    qtbot.waitUntil(lambda: bool(dialogs(dialog)), timeout=3000)
    text = dialogs(dialog)[0]
    assert "There is no preset to start your voice preset from" in text
    assert f"{ENROLMENT_BASE!r} is not installed" in text and "Open preset file" in text
    assert dialog.base.count() == 0
    dialog.go("build")
    assert not dialog.build_button.isEnabled()
    close_dialogs(dialog)
    dialog.close()


def test_a_preset_the_running_stream_cannot_switch_to_is_listed_not_chosen(
        qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    other = presets.save(random_preset((2, 2), sr=44100, n_fft=1024, hop_length=256),
                         tmp_path / "other-rate.npz")
    running = window.preset_panel.path
    dialog = window.open_enrol_dialog()
    window.live = SimpleNamespace(preset=window.preset_panel.preset)  # a stream, as seen here
    try:
        dialog.preset_saved.emit(other)
    finally:
        window.live = None
    assert other.resolve() in window.preset_panel.paths
    assert window.preset_panel.path == running
    assert "other-rate.npz is in the preset list" in window.status.message_text
    dialog.close()


def test_the_text_to_read_takes_about_30_seconds() -> None:
    words = len(READING_TEXT.split())
    assert 90 <= words <= 130  # 30 s at 180 to 260 words a minute, with room to spare
    assert READING_TEXT.count("\n\n") == 2 and "?" in READING_TEXT


# ---------------------------------------------------------------------- from the input
@contextmanager
def feeding(server: JackServer, signal: np.ndarray, folder: Path) -> Iterator[None]:
    """``signal``, looped, into every PortAudio input of the server while inside."""
    path = folder / f"feed-{time.monotonic_ns()}.npy"
    np.save(path, signal.astype(np.float32))
    process = subprocess.Popen(
        [sys.executable, str(HERE / "jack_feeder.py"), "--server", server.name,
         "--signal", str(path)], env=dict(os.environ, **server.env),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield
    finally:
        try:
            process.communicate("quit\n", timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@needs_jack
class TestFromTheInput:
    def test_voice_and_room_from_the_input_swap_into_the_running_stream(
            self, jack: JackServer, qtbot: Any, window: MainWindow, tiny_voice: Path,
            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        enrolment = importlib.import_module("livesep.models.train")
        monkeypatch.setattr(enrolment, "MIN_VOICE_SECONDS", 3.5)
        monkeypatch.setattr(enrolment, "MIN_ROOM_SECONDS", 1.0)
        began = time.monotonic()
        with StallWitness() as witness:
            assert window.preset_panel.open_file(tiny_voice)
            assert window.start(), dialogs(window)
            live, started = window.live, time.monotonic()
            qtbot.waitUntil(lambda: window.views.frames_drawn > 20, timeout=10000)
            dialog = window.open_enrol_dialog(seconds=(5.0, 1.5), least=(3.5, 1.0))
            levels: list[Any] = []
            dialog.voice.heard.connect(levels.append)
            voice = demo_voice(16000)
            with feeding(jack, voice, tmp_path):
                qtbot.mouseClick(dialog.voice.record_button, LEFT)
                qtbot.waitUntil(lambda: not dialog.voice.running, timeout=15000)
            assert dialog.voice.take is not None, dialogs(dialog)
            samples, rate = dialog.voice.take
            assert rate == 16000 and samples.size == 80000
            # What came in is the voice played (a loop of it), at its level.
            rms = [float(np.sqrt(np.mean(np.square(x[:80000])))) for x in (samples, voice)]
            assert rms[0] == pytest.approx(rms[1], rel=0.5)
            assert len(levels) >= 40 and max(level.db for level in levels if level) > -40
            assert "from the input device" in dialog.voice.status.text()
            qtbot.mouseClick(dialog.next_button, LEFT)
            with feeding(jack, noise(2 * 16000, seed=5), tmp_path):
                qtbot.mouseClick(dialog.room.record_button, LEFT)
                qtbot.waitUntil(lambda: not dialog.room.running, timeout=15000)
            assert dialog.room.take is not None, dialogs(dialog)
            assert dialog.room.take[0].size == 24000
            qtbot.mouseClick(dialog.next_button, LEFT)
            dialog.out.setText(str(tmp_path / "my-voice.npz"))
            dialog.out.setModified(True)
            with qtbot.waitSignal(dialog.preset_saved, timeout=60000) as saved:
                qtbot.mouseClick(dialog.build_button, LEFT)
            mine = presets.load(saved.args[0])
            assert mine.source_names == ("speech", "noise")
            assert [s.provenance["enrolled"] for s in mine.sources] == ["voice", "room"]
            # The same stream, never stopped, now runs the personal preset.
            assert window.live is live and live.state == "running"
            assert live.query("preset_name") == "my-voice"
            assert window.preset_panel.path == Path(saved.args[0]).resolve()
            drawn = window.views.frames_drawn
            qtbot.waitUntil(lambda: window.views.frames_drawn > drawn + 20, timeout=10000)
            stats = window.stop()
        assert stats is not None and stats.seconds >= time.monotonic() - started - 1.0
        # The swap, the recordings beside: not a glitch (unless the machine stalled).
        assert stats.xruns.total == 0 or jack.blamed_elsewhere(
            began, time.monotonic(), witness=witness), stats.xruns
        assert not dialogs(window) and not dialogs(dialog)
        dialog.close()

    def test_a_silent_input_stop_early_and_cancel(self, jack: JackServer, qtbot: Any,
                                                  window: MainWindow, tiny_voice: Path,
                                                  tmp_path: Path) -> None:
        assert window.preset_panel.open_file(tiny_voice)
        dialog = window.open_enrol_dialog(seconds=(8.0, 10.0), least=(1.0, 3.0))
        panel = dialog.voice
        assert panel.record_button.text() == "Record (8 s)"
        # The dummy server's capture is digital silence: said while recording, and after.
        qtbot.mouseClick(panel.record_button, LEFT)
        assert panel.record_button.text() == "Cancel" and not panel.stop_button.isEnabled()
        assert not dialog.next_button.isEnabled() and dialog.close_button.text() == "Cancel"
        qtbot.waitUntil(lambda: "No sound is coming in" in panel.status.text(), timeout=8000)
        assert panel.stop_button.isEnabled() and panel.countdown.text().endswith("s left")
        qtbot.mouseClick(panel.stop_button, LEFT)
        qtbot.waitUntil(lambda: bool(dialogs(dialog)), timeout=5000)
        assert "the voice recording is silent" in dialogs(dialog)[0]
        assert panel.take is None
        close_dialogs(dialog)
        with feeding(jack, demo_voice(16000), tmp_path):
            qtbot.mouseClick(panel.record_button, LEFT)
            qtbot.waitUntil(lambda: panel.stop_button.isEnabled(), timeout=8000)
            qtbot.mouseClick(panel.stop_button, LEFT)  # early, once the least is in
            qtbot.waitUntil(lambda: not panel.running, timeout=5000)
            assert panel.take is not None, dialogs(dialog)
            seconds = panel.take[0].size / panel.take[1]
            assert 1.0 <= seconds < 3.0
            kept = panel.take
            qtbot.mouseClick(panel.record_button, LEFT)  # again, then cancel it
            qtbot.waitUntil(lambda: panel.elapsed > 0.3, timeout=5000)
            qtbot.mouseClick(panel.record_button, LEFT)
            qtbot.waitUntil(lambda: not panel.running, timeout=5000)
        assert panel.take is kept and panel.status.text().startswith("cancelled")
        assert panel.record_button.text() == "Record again (8 s)"
        assert not dialogs(dialog)
        dialog.close()
