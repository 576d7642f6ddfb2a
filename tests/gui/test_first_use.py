"""What a new user meets in the desktop app, offscreen (pytest-qt): preset files that
cannot load, the hint before Start, the input meter and its clipping light, the "no
signal" hint, the status bar without audio devices, and the audio server vanishing while
the window streams (JACK's dummy backend, tests/helpers/jack_harness.py).

The side panel's fit at 1280x800 is checked in a real window: test_layout.py.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PyQt6 import QtCore, QtGui, QtWidgets  # noqa: E402

from helpers.jack_harness import JackServer, jack_available  # noqa: E402
from helpers.preset_files import members_of, npy_claiming, pack, unpack  # noqa: E402
from livesep import audio, presets  # noqa: E402
from livesep.engine import create_separator  # noqa: E402
from livesep.errors import PresetError  # noqa: E402
from livesep.gui.app import demo_arguments  # noqa: E402
from livesep.gui.meters import (  # noqa: E402
    FALL_DB_PER_SECOND,
    InputLevel,
    InputMeter,
    SilenceWatch,
    input_level,
)
from livesep.gui.views import NO_SIGNAL_HINT, SILENT_FILE_HINT  # noqa: E402
from livesep.gui.window import MainWindow  # noqa: E402
from livesep.presets.shipped import resolve_preset, shipped_presets  # noqa: E402

needs_jack = pytest.mark.skipif(not jack_available(),
                                reason="needs jackd (Debian jackd2) and the JACK-Client package")


def dialogs(widget: QtWidgets.QWidget) -> list[str]:
    """The texts of the error dialogs open over ``widget``."""
    return [box.text() for box in widget.findChildren(QtWidgets.QMessageBox)
            if box.isVisible()]


def close_dialogs(widget: QtWidgets.QWidget) -> None:
    for box in widget.findChildren(QtWidgets.QMessageBox):
        box.close()


def labels(window: MainWindow) -> list[str]:
    """The preset list's entries as the user reads them."""
    listing = window.preset_panel.list
    return [listing.item(row).text() for row in range(listing.count())]


# ---------------------------------------------------------------------- presets
@pytest.fixture
def preset_files(tmp_path: Path) -> dict[str, Path]:
    """A good copy of a shipped preset and two copies whose header is fine but whose
    arrays are not: a W column summing to 2, and a W member cut in half."""
    source = resolve_preset("male-female-nmf")
    meta, arrays = unpack(source)
    good = Path(shutil.copy(source, tmp_path / "male-female-nmf.npz"))
    doubled = arrays["source0.W"].copy()
    doubled[0, :, 0] *= 2
    bad_sum = pack(tmp_path / "edited.npz", members_of(meta, {**arrays, "source0.W": doubled}))
    members = members_of(meta, arrays)
    data = arrays["source1.W"].astype("<f4").tobytes()
    members["source1.W.npy"] = npy_claiming(arrays["source1.W"].shape, "<f4",
                                            data[:len(data) // 2])
    truncated = pack(tmp_path / "truncated.npz", members)
    for broken in (bad_sum, truncated):  # the case at hand: the header alone passes
        assert presets.load_meta(broken).name == "male-female-nmf"
        with pytest.raises(PresetError):
            presets.load(broken)
    return {"good": good, "bad_sum": bad_sum, "truncated": truncated}


def test_only_presets_that_load_are_listed_and_the_others_are_named(
        qtbot: Any, settings: QtCore.QSettings, monkeypatch: pytest.MonkeyPatch,
        preset_files: dict[str, Path]) -> None:
    files = [preset_files[key] for key in ("bad_sum", "good", "truncated")]
    monkeypatch.setattr("livesep.gui.preset_panel.shipped_presets", lambda: files)
    main = MainWindow(settings=settings)
    qtbot.addWidget(main)
    main.show()
    panel = main.preset_panel
    assert panel.paths == [preset_files["good"].resolve()]
    assert labels(main) == ["male-female-nmf  —  male, female"]
    skipped = {path.name: why for path, why in panel.skipped.items()}
    assert set(skipped) == {"edited.npz", "truncated.npz"}
    assert "sums to 2, not 1" in skipped["edited.npz"]
    assert "corrupt or truncated" in skipped["truncated.npz"]
    assert not panel.note.isHidden() and "edited.npz" in panel.note.text()
    assert "sums to 2" in panel.note.toolTip()
    message = main.status.message_text
    assert "skipped 2 preset files" in message and "truncated.npz" in message
    assert panel.preset is not None and not dialogs(main)
    main.close()


def test_a_broken_preset_opened_by_hand_is_a_dialog_and_not_listed(
        window: MainWindow, preset_files: dict[str, Path]) -> None:
    before = list(window.preset_panel.paths)
    assert not window.preset_panel.open_file(preset_files["bad_sum"])
    assert window.preset_panel.paths == before
    texts = dialogs(window)
    assert len(texts) == 1 and "edited.npz cannot be used as a preset" in texts[0]
    assert window.preset_panel.preset.name == "male-female-nhmm"


def test_presets_of_the_same_name_are_told_apart_by_their_files(window: MainWindow,
                                                                 tmp_path: Path) -> None:
    shipped = resolve_preset("male-female-nhmm")
    copy = Path(shutil.copy(shipped, tmp_path / "my-copy.npz"))
    (tmp_path / "other").mkdir()
    twin = Path(shutil.copy(shipped, tmp_path / "other" / "my-copy.npz"))
    for path in (copy, twin):
        assert window.preset_panel.open_file(path), dialogs(window)
    shown = labels(window)
    assert len(shown) == len(set(shown)) == len(shipped_presets()) + 2
    named = [text for text in shown if text.startswith("male-female-nhmm  —")]
    assert sorted(named) == sorted([
        "male-female-nhmm  —  male, female  (male-female-nhmm.npz)",
        f"male-female-nhmm  —  male, female  ({copy.resolve()})",
        f"male-female-nhmm  —  male, female  ({twin.resolve()})"])


# ---------------------------------------------------------------------- hints, meter
def test_the_views_say_what_to_do_until_the_first_frames(window: MainWindow) -> None:
    views = window.views
    assert "press Start" in views.hint_text
    hint = views.hint.geometry()
    offset = hint.center() - views.rect().center()
    assert views.rect().contains(hint) and offset.manhattanLength() <= 2
    bins = views.masks[0].buffer.shape[0]
    frames = {"spectrum": np.full((3, bins), 1.0, np.float32),
              "masks": np.full((3, 2, bins), 0.5, np.float32),
              "marginals": np.full((3, 2, 256), 0.05, np.float32)}
    views.push(frames)
    assert views.hint_text == "" and views.hint.isHidden()
    window.preset_panel.select("male-female-nmf")  # new views, nothing drawn yet
    assert "press Start" in views.hint_text


def spectrum_of(signal: np.ndarray) -> np.ndarray:
    """The engine's input spectrum frames for a 16 kHz signal (the window's source)."""
    separator = create_separator(presets.load(resolve_preset("male-female-nhmm")))
    separator.process(signal.astype(np.float32))
    return separator.pop_snapshots()["spectrum"][8:]  # past the first window's ramp


def test_the_input_level_and_peak_are_read_from_the_engines_spectrum() -> None:
    t = np.arange(16000) / 16000
    half = input_level(spectrum_of(0.5 * np.sin(2 * np.pi * 1000.3 * t)))
    assert half is not None and half.db == pytest.approx(-6.02, abs=0.05)
    assert half.peak == pytest.approx(0.5, abs=0.005) and not half.clipped
    clipped = input_level(spectrum_of(np.clip(1.5 * np.sin(2 * np.pi * 440 * t), -1, 1)))
    assert clipped is not None and clipped.clipped and clipped.db > 0
    noise = np.random.default_rng(0).standard_normal(16000) * 0.05
    quiet = input_level(spectrum_of(noise))
    assert quiet is not None and quiet.db == pytest.approx(20 * np.log10(0.05 * np.sqrt(2)),
                                                           abs=0.5)
    silent = input_level(spectrum_of(np.zeros(16000)))
    assert silent is not None and silent.db == float("-inf") and not silent.clipped
    assert input_level(np.zeros((0, 257), np.float32)) is None


def test_the_meter_rises_at_once_and_falls_at_a_readable_pace(qtbot: Any) -> None:
    meter = InputMeter()
    qtbot.addWidget(meter)
    assert meter.bar.text() == "input –"
    meter.show_level(InputLevel(db=-10.0, peak=0.4), now=5.0)
    meter.show_level(InputLevel(db=-60.0, peak=0.001), now=5.02)
    assert meter.bar.text() == "-10 dBFS"
    meter.show_level(InputLevel(db=-60.0, peak=0.001), now=6.0)
    assert meter.bar.text() == f"{-10 - FALL_DB_PER_SECOND:.0f} dBFS"
    meter.show_level(InputLevel(db=-5.0, peak=0.8), now=6.01)
    assert meter.bar.value() == -5
    meter.show_level(InputLevel(db=float("-inf"), peak=0.0), now=60.0)
    assert meter.bar.text() == "-∞ dBFS" and meter.bar.value() == meter.bar.minimum()
    meter.show_level(None)
    assert meter.bar.text() == "input –"


def test_the_clip_light_latches_until_clicked_or_for_a_few_seconds(qtbot: Any) -> None:
    meter = InputMeter(hold_ms=300)
    qtbot.addWidget(meter)
    meter.show()
    meter.show_level(InputLevel(db=-20.0, peak=0.14))
    assert not meter.clipping and meter.bar.value() == -20 and meter.bar.text() == "-20 dBFS"
    meter.show_level(InputLevel(db=1.0, peak=1.0))
    assert meter.clipping and "#d01c1c" in meter.clip.styleSheet()
    meter.show_level(InputLevel(db=-30.0, peak=0.04))  # quiet again: the light stays on
    assert meter.clipping
    qtbot.mouseClick(meter.clip, QtCore.Qt.MouseButton.LeftButton)
    assert not meter.clipping and "#d01c1c" not in meter.clip.styleSheet()
    meter.show_level(InputLevel(db=0.0, peak=0.9995))
    assert meter.clipping
    qtbot.waitUntil(lambda: not meter.clipping, timeout=2000)


def test_no_signal_means_silent_for_over_a_second() -> None:
    watch = SilenceWatch()
    watch.restart(10.0)
    quiet, heard = InputLevel(db=-80.0, peak=0.0), InputLevel(db=-60.0, peak=0.001)
    assert not watch.update(quiet, 10.5)
    assert watch.update(None, 11.1)  # no frames at all count as silence too
    assert not watch.update(heard, 11.2)
    assert not watch.update(quiet, 12.1)
    assert watch.update(quiet, 12.3)


# ---------------------------------------------------------------------- status bar
def ink_columns(image: QtGui.QImage, left: int, right: int) -> list[int]:
    """Columns in [left, right) holding text pixels: far from the bar's background."""
    from PyQt6.QtGui import QColor

    background = QColor(image.pixel(image.width() // 2, 1)).lightness()
    return [x for x in range(max(0, left), right)
            if any(abs(QColor(image.pixel(x, y)).lightness() - background) > 60
                   for y in range(2, image.height() - 2))]


def test_without_devices_the_message_and_the_state_stay_apart(
        qtbot: Any, settings: QtCore.QSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("livesep.gui.audio_panel.devices.list_devices", lambda: [])
    main = MainWindow(settings=settings, preset="male-female-nhmm")
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    status = main.status
    assert status.state.text() == "stopped"
    for width in (1280, 1000):  # the whole message fits, or it is shortened
        main.resize(width, 800)
        qtbot.waitUntil(lambda: status.width() == main.width(), timeout=2000)
        state = status.state.geometry()
        assert state.width() >= status.state.fontMetrics().horizontalAdvance("stopped")
        image = status.grab().toImage()
        assert ink_columns(image, 0, 40)  # the message is there
        assert ink_columns(image, state.left() - 5, state.left()) == []  # then a gap
        assert not status.message.geometry().intersects(state)
    assert status.message_text.startswith("no audio devices: PortAudio finds no sound card")
    assert status.message.text().endswith("…")
    assert status.message.toolTip() == status.message_text
    main.close()


@pytest.mark.parametrize("rate, expected", [(16000, "voice"), (44100, "voice-48k"),
                                            (48000, "voice-48k")])
def test_at_first_the_default_voice_preset_for_the_output_rate_is_chosen(
        qtbot: Any, settings: QtCore.QSettings, monkeypatch: pytest.MonkeyPatch, rate: int,
        expected: str) -> None:
    from livesep.live.devices import DeviceInfo

    found = [DeviceInfo(index=index, name=f"card {index}", hostapi="ALSA",
                        max_input_channels=2, max_output_channels=2,
                        default_samplerate=default, default_low_input_latency=0.01,
                        default_low_output_latency=0.01, is_default_output=index == 1)
             for index, default in ((0, 8000.0), (1, float(rate)))]
    monkeypatch.setattr("livesep.gui.audio_panel.devices.list_devices", lambda: found)
    main = MainWindow(settings=settings)
    qtbot.addWidget(main)
    assert main.preset_panel.preset.name == expected
    assert main.audio_panel.stream_rate() == rate
    main.audio_panel.output_device.setCurrentIndex(1)  # card 0, by number
    assert main.audio_panel.stream_rate() == 8000.0
    main.close()


# ---------------------------------------------------------------------- streaming
@needs_jack
class TestStreaming:
    def test_the_meter_shows_the_input_and_lights_on_clipping(
            self, jack: JackServer, qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
        t = np.arange(32000) / 16000
        loud = audio.write(tmp_path / "loud.wav",
                           np.clip(1.5 * np.sin(2 * np.pi * 440 * t), -1, 1), sr=16000)
        quiet = audio.write(tmp_path / "quiet.wav", 0.1 * np.sin(2 * np.pi * 440 * t), sr=16000)
        meter = window.audio_panel.meter
        assert window.open_audio_file(quiet) and window.start(), dialogs(window)
        qtbot.waitUntil(lambda: window.views.frames_drawn > 20, timeout=10000)
        assert window.views.hint_text == ""
        qtbot.waitUntil(lambda: meter.bar.text() == "-20 dBFS", timeout=3000)
        assert meter.bar.value() == -20 and not meter.clipping
        window.stop()
        assert window.open_audio_file(loud) and window.start(), dialogs(window)
        qtbot.waitUntil(lambda: meter.clipping and meter.bar.value() == 0, timeout=5000)
        window.stop()
        assert meter.clipping  # latched after the stream stopped
        qtbot.mouseClick(meter.clip, QtCore.Qt.MouseButton.LeftButton)
        assert not meter.clipping

    def test_a_silent_input_shows_no_signal_and_a_live_one_does_not(
            self, jack: JackServer, qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
        assert window.audio_panel.from_input.isChecked()  # the dummy's capture: zeros
        assert window.start(), dialogs(window)
        started = time.monotonic()
        qtbot.waitUntil(lambda: window.views.hint_text == NO_SIGNAL_HINT, timeout=5000)
        assert time.monotonic() - started >= 1.0 and window.views.frames_drawn > 0
        assert not window.views.hint.isHidden()
        window.stop()
        assert window.views.hint_text == ""
        silent = audio.write(tmp_path / "silent.wav", np.zeros(32000), sr=16000)
        assert window.open_audio_file(silent) and window.start()
        qtbot.waitUntil(lambda: window.views.hint_text == SILENT_FILE_HINT, timeout=5000)
        window.stop()
        assert window.open_audio_file(demo_arguments()[1]) and window.start()
        qtbot.waitUntil(lambda: window.views.frames_drawn > 20, timeout=10000)
        for _ in range(10):  # 2.5 s of speech: never "no signal"
            qtbot.wait(250)
            assert window.views.hint_text == ""
        window.stop()


@pytest.mark.skipif(not jack_available(), reason="needs jackd and the JACK-Client package")
def test_the_server_vanishing_mid_stream_is_a_dialog_and_the_window_recovers(
        qtbot: Any, settings: QtCore.QSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    """jackd gone while the window streams: one dialog, the controls back, a rescan that
    does not take the window down, a new start once a server is back, a clean close."""
    with JackServer(16000, 256) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        main = MainWindow(settings=settings, preset="male-female-nhmm")
        qtbot.addWidget(main)
        main.show()
        panel = main.audio_panel
        assert panel.input_device.count() > 1, main.status.message_text  # the server's
        for combo in (panel.input_device, panel.output_device):
            combo.setCurrentIndex(0)  # default: the audio process opens this server's
        assert main.start(), dialogs(main)
        qtbot.waitUntil(lambda: main.views.frames_drawn > 20, timeout=10000)
        # Stopped, not killed: a killed jackd keeps its slot in JACK's registry of servers
        # (8 per machine) for good.
        server.stop()
        qtbot.waitUntil(lambda: main.live is None, timeout=30000)
    qtbot.waitUntil(lambda: bool(dialogs(main)), timeout=5000)
    texts = dialogs(main)
    assert len(texts) == 1 and "stopped delivering audio" in texts[0], texts
    for widget in (panel.start_button, panel.refresh_button, panel.input_device,
                   panel.output_device, main.preset_panel.list):
        assert widget.isEnabled()
    assert not panel.stop_button.isEnabled()
    assert main.status.state.text().startswith("stopped")
    close_dialogs(main)
    qtbot.mouseClick(panel.refresh_button, QtCore.Qt.MouseButton.LeftButton)  # no server
    qtbot.waitUntil(lambda: bool(dialogs(main)), timeout=5000)
    assert "no audio devices" in dialogs(main)[0]
    close_dialogs(main)
    with JackServer(16000, 256) as again:
        for name, value in again.env.items():
            monkeypatch.setenv(name, value)
        qtbot.mouseClick(panel.refresh_button, QtCore.Qt.MouseButton.LeftButton)
        assert panel.input_device.count() > 1 and not dialogs(main)
        drawn = main.views.frames_drawn
        assert main.start(), dialogs(main)
        qtbot.waitUntil(lambda: main.views.frames_drawn > drawn + 20, timeout=10000)
        process = main.live._process
        main.close()
        assert main.live is None
        process.join(timeout=5)
        assert not process.is_alive() and process.exitcode == 0
