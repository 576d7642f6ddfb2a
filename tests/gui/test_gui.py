"""The desktop app, offscreen (pytest-qt): every control, on a real PortAudio device
(JACK's dummy backend, tests/helpers/jack_harness.py) where audio is involved; the
fixtures are in this folder's conftest.py.

The stream runs in the app's child process (livesep.live.remote); what reached the engine
is asked from that process (``query("engine_controls")``), not guessed from the widgets.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PyQt6 import QtCore, QtWidgets  # noqa: E402

from helpers.jack_harness import JackServer, jack_available  # noqa: E402
from helpers.presets import random_preset  # noqa: E402
from livesep import audio, presets  # noqa: E402
from livesep.errors import AudioFileError, LivesepError  # noqa: E402
from livesep.gui.app import NoDisplayError, check_display, demo_arguments  # noqa: E402
from livesep.gui.dialogs import ErrorRelay, install_exception_hooks  # noqa: E402
from livesep.gui.window import MainWindow  # noqa: E402
from livesep.presets.shipped import shipped_presets  # noqa: E402

needs_jack = pytest.mark.skipif(not jack_available(),
                                reason="needs jackd (Debian jackd2) and the JACK-Client package")


def dialogs(widget: QtWidgets.QWidget) -> list[str]:
    """The texts of the error dialogs open over ``widget``."""
    return [box.text() for box in widget.findChildren(QtWidgets.QMessageBox)
            if box.isVisible()]


def close_dialogs(widget: QtWidgets.QWidget) -> None:
    for box in widget.findChildren(QtWidgets.QMessageBox):
        box.close()


# ---------------------------------------------------------------------- presets
def test_shipped_presets_are_listed_with_their_details(window: MainWindow) -> None:
    panel = window.preset_panel
    assert [p.resolve() for p in shipped_presets()] == panel.paths
    assert panel.preset is not None and panel.preset.name == "male-female-nhmm"
    details = panel.details.text()
    for part in ("male (20×10)", "female", "NHMM", "16000 Hz"):
        assert part in details
    assert [strip.name for strip in window.strips.strips] == ["male", "female"]
    assert [view.buffer.shape[0] for view in window.views.states] == [20, 20]
    assert window.views.masks[0].buffer.shape[0] == 257


def test_opening_a_preset_file_rebuilds_strips_and_views(window: MainWindow,
                                                         tmp_path: Path) -> None:
    path = presets.save(random_preset((3, 4, 2), 4), tmp_path / "three.npz")
    assert window.preset_panel.open_file(path)
    assert window.preset_panel.path == path.resolve()
    assert [s.name for s in window.strips.strips] == ["source0", "source1", "source2"]
    assert [view.buffer.shape[0] for view in window.views.states] == [3, 4, 2]
    assert not dialogs(window)


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04 truncated"])
def test_a_bad_preset_is_a_dialog_and_the_choice_stays(window: MainWindow, tmp_path: Path,
                                                       content: bytes) -> None:
    bad = tmp_path / "broken.npz"
    bad.write_bytes(content)
    before = window.preset_panel.preset
    assert not window.preset_panel.open_file(bad)
    texts = dialogs(window)
    assert len(texts) == 1 and "broken.npz cannot be used as a preset" in texts[0]
    assert window.preset_panel.preset is before
    assert [s.name for s in window.strips.strips] == ["male", "female"]


def test_a_bad_audio_file_is_a_dialog(window: MainWindow, tmp_path: Path) -> None:
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    assert not window.open_audio_file(bad)
    assert any("noise.wav" in text for text in dialogs(window))
    assert window.audio_panel.file is None


# ---------------------------------------------------------------------- streaming
@needs_jack
class TestStreaming:
    def test_start_draws_and_stop_reports(self, jack: JackServer, qtbot,
                                          window: MainWindow) -> None:
        window.audio_panel.populate()
        qtbot.mouseClick(window.audio_panel.start_button, QtCore.Qt.MouseButton.LeftButton)
        assert window.live is not None, dialogs(window)
        assert window.live.info["device_rate"] == 16000
        assert not window.audio_panel.start_button.isEnabled()
        qtbot.waitUntil(lambda: window.views.frames_drawn > 50, timeout=10000)
        qtbot.waitUntil(lambda: "xruns" in window.status.xruns.text() and
                        "–" not in window.status.xruns.text(), timeout=5000)
        qtbot.mouseClick(window.audio_panel.stop_button, QtCore.Qt.MouseButton.LeftButton)
        assert window.live is None and window.audio_panel.start_button.isEnabled()
        assert window.status.state.text().startswith("stopped after")
        assert window.status.xruns.text() == "xruns 0"
        assert not dialogs(window)

    def test_strip_controls_reach_the_engine(self, jack: JackServer, window: MainWindow
                                             ) -> None:
        strips = window.strips.strips
        strips[1].gain.setValue(-12)  # before start: applied when the stream starts
        assert window.start(), dialogs(window)
        live = window.live
        assert live is not None
        controls = live.query("engine_controls")
        assert controls[0] == (pytest.approx(1.0), False, False)
        assert controls[1][0] == pytest.approx(10 ** (-12 / 20), rel=1e-5)
        strips[0].gain.setValue(6)
        strips[0].mute.click()
        strips[1].solo.click()
        controls = live.query("engine_controls")
        assert controls[0] == (pytest.approx(10 ** (6 / 20), rel=1e-5), True, False)
        assert controls[1][2] is True
        strips[0].mute.click()
        assert live.query("engine_controls")[0][1] is False
        window.stop()

    def test_the_strength_knob_reaches_the_engine(self, jack: JackServer, window: MainWindow
                                                  ) -> None:
        assert window.strength.slider.value() == 100
        window.strength.set_percent(40)  # before start: applied when the stream starts
        assert window.start(), dialogs(window)
        live = window.live
        assert live is not None
        assert live.query("engine_strength") == pytest.approx(0.4)
        window.strength.slider.setValue(0)
        assert live.query("engine_strength") == 0.0
        assert window.strength.value_label.text() == "0 %"
        window.strength.set_percent(250)
        assert live.query("engine_strength") == 1.0
        window.stop()

    def test_the_latency_choice_reaches_the_engine(self, jack: JackServer,
                                                  window: MainWindow) -> None:
        panel = window.audio_panel
        assert panel.latency.currentData() == "standard"
        assert window.start(), dialogs(window)
        assert window.live is not None and window.live.query("engine_latency") == 511
        assert not panel.latency.isEnabled()  # fixed while the stream runs
        window.stop()
        panel.latency.setCurrentIndex(panel.latency.findData("low"))
        assert window.start(), dialogs(window)
        assert window.live.query("engine_latency") == 127  # 7.9 ms at 16 kHz
        window.stop()
        window.save_settings()
        assert window.settings.value("audio/latency") == "low"

    def test_a_compatible_preset_switches_without_a_restart(self, jack: JackServer, qtbot,
                                                            window: MainWindow) -> None:
        assert window.start()
        live = window.live
        window.preset_panel.select("male-female-nmf")
        assert window.live is live  # the same stream
        assert live.query("preset_name") == "male-female-nmf"
        assert [view.buffer.shape[0] for view in window.views.states] == [1, 1]
        window.preset_panel.select("speech-noise-nhmm")  # same shape too
        qtbot.waitUntil(lambda: window.views.frames_drawn > 10, timeout=10000)
        window.stop()

    def test_file_mode_plays_the_file_then_exports_stems(self, jack: JackServer, qtbot,
                                                         window: MainWindow,
                                                         tmp_path: Path) -> None:
        _, mixture = demo_arguments()
        assert window.open_audio_file(mixture)
        assert window.audio_panel.from_file.isChecked()
        assert window.start(), dialogs(window)
        qtbot.waitUntil(lambda: window.views.frames_drawn > 100, timeout=10000)
        qtbot.waitUntil(lambda: window.status.position.text().strip() != "", timeout=5000)
        masks = [view.buffer for view in window.views.masks]
        assert masks[0].any() and masks[1].any() and not np.array_equal(*masks)
        stats = window.stop()
        assert stats is not None and stats.xruns.total == 0
        with qtbot.waitSignal(window.export_bar.finished, timeout=30000) as done:
            assert window.export_stems(tmp_path / "stems")
        report = done.args[0]
        assert report is not None, dialogs(window)
        length = audio.info(mixture).frames
        for name in ("male", "female"):
            assert audio.info(tmp_path / "stems" / f"{name}.wav").frames == length
        # The same folder again, without overwrite: a dialog, nothing replaced.
        with qtbot.waitSignal(window.export_bar.finished, timeout=30000) as again:
            window.export_stems(tmp_path / "stems")
        assert again.args[0] is None and any("already exists" in t for t in dialogs(window))

    def test_file_mode_without_loop_stops_at_the_end(self, jack: JackServer, qtbot,
                                                     window: MainWindow,
                                                     tmp_path: Path) -> None:
        short = audio.write(tmp_path / "short.wav",
                            np.random.default_rng(0).standard_normal(8000).astype(np.float32)
                            * 0.1, sr=16000)
        window.open_audio_file(short)
        window.audio_panel.loop.setChecked(False)
        assert window.start()
        qtbot.waitUntil(lambda: window.live is None, timeout=10000)
        assert "end of the file" in window.status.message_text

    def test_closing_while_running_stops_the_stream(self, jack: JackServer, qtbot,
                                                    settings: QtCore.QSettings) -> None:
        main = MainWindow(settings=settings, preset="male-female-nhmm")
        qtbot.addWidget(main)
        main.show()
        assert main.start()
        process = main.live._process
        main.close()
        assert main.live is None
        process.join(timeout=5)
        assert not process.is_alive() and process.exitcode == 0

    def test_device_problems_are_dialogs(self, jack: JackServer, window: MainWindow) -> None:
        window.audio_panel.rate.setCurrentIndex(window.audio_panel.rate.findData(44100))
        assert not window.start()
        assert any("44100" in text for text in dialogs(window))
        assert window.live is None and window.audio_panel.start_button.isEnabled()

    def test_recording_from_the_input(self, jack: JackServer) -> None:
        from livesep.live.learning import record_input

        seen: list[float] = []
        samples, rate = record_input(0.5, samplerate=16000, progress=seen.append)
        assert rate == 16000 and samples.shape == (8000,) and samples.dtype == np.float32
        assert seen[-1] == 1.0


# ---------------------------------------------------------------------- settings, errors
def test_settings_persist_between_runs(qtbot, settings: QtCore.QSettings) -> None:
    _, mixture = demo_arguments()
    first = MainWindow(settings=settings, preset="piano-sax-nmf", file=mixture)
    qtbot.addWidget(first)
    panel = first.audio_panel
    panel.rate.setCurrentIndex(panel.rate.findData(48000))
    panel.blocksize.setCurrentIndex(panel.blocksize.findData(512))
    panel.loop.setChecked(False)
    first.strength.set_percent(70)
    first.close()
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    assert second.preset_panel.preset.name == "piano-sax-nmf"
    panel = second.audio_panel
    assert panel.rate.currentData() == 48000 and panel.blocksize.currentData() == 512
    assert not panel.loop.isChecked()
    assert second.strength.strength == pytest.approx(0.7)
    assert panel.file == Path(mixture) and panel.from_file.isChecked()
    second.close()


def test_uncaught_errors_become_dialogs(qtbot, window: MainWindow) -> None:
    relay = ErrorRelay(lambda: window)
    restore = install_exception_hooks(relay)
    try:
        import sys

        sys.excepthook(AudioFileError, AudioFileError("x.wav: gone"), None)
        thread = threading.Thread(target=lambda: (_ for _ in ()).throw(KeyError("bug")))
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(relay.shown) == 2, timeout=3000)
    finally:
        restore()
    assert relay.shown[0] == "x.wav: gone"
    assert relay.shown[1].startswith("internal error: KeyError")
    assert len(dialogs(window)) == 2
    close_dialogs(window)


def test_no_display_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(NoDisplayError, match="no display: neither DISPLAY"):
        check_display("hint")
    monkeypatch.setenv("DISPLAY", ":4242")
    with pytest.raises(NoDisplayError, match="cannot connect to the X server at DISPLAY=:4242"):
        check_display("hint")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    check_display("hint")
    assert issubclass(NoDisplayError, LivesepError)


# ---------------------------------------------------------------------- learn a source
def test_learning_a_source_saves_a_combined_preset(qtbot, window: MainWindow,
                                                   tmp_path: Path) -> None:
    from livesep.gui.learn_dialog import LearnDialog
    from livesep.presets.shipped import resolve_preset

    base = resolve_preset("speech-noise-nhmm").resolve()
    window.preset_panel.open_file(base)
    dialog = window.open_learn_dialog()
    assert isinstance(dialog, LearnDialog)
    assert dialog.base.currentData() == str(base)
    dialog.name.setText("me")
    dialog.add_files([demo_arguments()[1].parent / "male.flac"])
    dialog.states.setValue(3)
    dialog.components.setValue(4)
    dialog.iterations.setValue(3)
    dialog.keep.item(0).setCheckState(QtCore.Qt.CheckState.Unchecked)  # not "speech"
    assert dialog.kept_sources() == ["noise"]
    dialog.out.setText(str(tmp_path / "me-in-noise.npz"))
    dialog.out.setModified(True)
    with qtbot.waitSignal(dialog.preset_saved, timeout=45000) as saved:
        dialog.train()
    path = saved.args[0]
    learned = presets.load(path)
    assert learned.source_names == ("me", "noise")
    assert learned.sources[0].n_states == 3 and learned.sources[0].n_components == 4
    assert learned.sources[1] == presets.load(base).source("noise")
    assert dialog.fractions[0] == -1.0 and dialog.fractions[-1] == pytest.approx(1.0)
    assert len(dialog.fractions) >= 3
    # The new preset is listed and chosen.
    assert window.preset_panel.path == Path(path).resolve()
    assert [s.name for s in window.strips.strips] == ["me", "noise"]
    dialog.close()


def test_learning_without_examples_is_a_dialog(qtbot, window: MainWindow) -> None:
    dialog = window.open_learn_dialog()
    dialog.train()
    texts = [box.text() for box in dialog.findChildren(QtWidgets.QMessageBox)]
    assert any("record the source or add audio files" in text for text in texts)
    dialog.close()
