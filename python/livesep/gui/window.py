"""The main window of ``livesep gui``: preset, audio and source panels beside the live
views, a status bar; the stream it runs and everything that feeds the views.

Threading: the stream runs in a child process (:mod:`livesep.live.remote` says why: the
GIL); the window pulls its display snapshots over a pipe from a QTimer on the GUI thread,
never waiting for an answer, so neither a busy GUI nor a slow paint can delay the audio
callback — if the window falls behind, the engine's snapshot ring drops frames, never
audio. Long jobs (export, recording, training) run on QThreads. A preset a dialog makes
("Learn my voice", "Learn a source") joins the list and, if the stream can run it without a
restart, replaces the running one at once (the engine swaps models between blocks).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from PyQt6 import QtCore, QtGui, QtWidgets

from livesep import audio, presets
from livesep.errors import LivesepError
from livesep.gui.audio_panel import AudioPanel
from livesep.gui.dialogs import describe_error, error_dialog
from livesep.gui.meters import InputLevel, SilenceWatch, input_level
from livesep.gui.preset_panel import PresetPanel, switchable
from livesep.gui.status import FrameCounter, StatusBar
from livesep.gui.strips import StrengthKnob, StripsPanel
from livesep.gui.views import NO_SIGNAL_HINT, SILENT_FILE_HINT, LiveViews
from livesep.gui.workers import ExportBar
from livesep.live.learning import FULL_BAND_SR
from livesep.live.remote import InProcessSeparator, RemoteSeparator
from livesep.live.stats import LiveStats, source_levels
from livesep.presets import Preset, default_preset
from livesep.presets.shipped import FULL_BAND_RATE

__all__ = ["MainWindow", "FRAME_INTERVAL_MS"]

#: The views' refresh period: 40 frames per second (the issue asks for at least 30).
FRAME_INTERVAL_MS = 25
_STATS_EVERY = 10  # ticks between status-bar statistics (4 per second)
#: The first size, bounded by the screen's free area. The side panel fits it unscrolled
#: with two sources, and 1280x720 too (a 1280x800 screen less title bar and desktop panel).
DEFAULT_SIZE = (1280, 800)


class MainWindow(QtWidgets.QMainWindow):
    """The desktop app.

    Parameters
    ----------
    settings : QSettings, optional
        Where choices persist (default: the user's livesep settings).
    preset : str, optional
        A preset file or shipped preset name to choose first (else the last one used).
    file : path-like, optional
        An audio file to open in file mode.
    in_process : bool
        Run the stream in this process instead of a child (only to measure the
        difference: benchmarks/bench_gui.py).
    """

    def __init__(self, *, settings: QtCore.QSettings | None = None, preset: str | None = None,
                 file: str | os.PathLike[str] | None = None, in_process: bool = False) -> None:
        super().__init__()
        self.setWindowTitle("livesep")
        self.settings = settings or QtCore.QSettings("livesep", "livesep")
        self.in_process = in_process
        self.live: RemoteSeparator | InProcessSeparator | None = None
        self._file_audio: tuple[Path, object, int] | None = None
        self.preset_panel = PresetPanel()
        self.audio_panel = AudioPanel()
        self.strips = StripsPanel()
        self.strength = StrengthKnob()
        self.views = LiveViews()
        self.status = StatusBar()
        self.export_bar = ExportBar()
        self.status.addWidget(self.export_bar)
        self.setStatusBar(self.status)
        self._build_layout()
        self._build_actions()
        self.frames = FrameCounter(self.views.canvas.viewport())
        self._ticks = 0
        self.silence = SilenceWatch()
        self._silence_hint = NO_SIGNAL_HINT
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(FRAME_INTERVAL_MS)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)

        self.preset_panel.preset_chosen.connect(self._preset_chosen)
        self.preset_panel.enrol_requested.connect(self.open_enrol_dialog)
        self.audio_panel.start_requested.connect(self.start)
        self.audio_panel.stop_requested.connect(self.stop)
        self.audio_panel.file_requested.connect(self._ask_for_audio_file)
        self.audio_panel.bypass_toggled.connect(self._bypass)
        self.strength.strength_changed.connect(self._strength)
        self.strips.gain_changed.connect(lambda s, g: self._control("set_gain", s, g))
        self.strips.mute_toggled.connect(lambda s, on: self._control("set_muted", s, on))
        self.strips.solo_toggled.connect(lambda s, on: self._control("set_soloed", s, on))
        self.export_bar.finished.connect(self._exported)

        problems = [self.audio_panel.populate(), self.preset_panel.skipped_summary()]
        if any(problems):
            self.status.show_message("; ".join(p for p in problems if p), 20000)
        self._restore(preset, file)

    # ------------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        panels = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(panels)
        column.setContentsMargins(4, 2, 4, 2)
        column.setSpacing(4)
        column.addWidget(self.preset_panel)
        column.addWidget(self.audio_panel)
        column.addWidget(self.strips)
        column.addStretch(1)
        scroll = QtWidgets.QScrollArea()  # scrolls only in a window too short for the panels
        scroll.setWidget(panels)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(420)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        splitter = QtWidgets.QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(self.views)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([420, 860])
        self.setCentralWidget(splitter)
        size = QtCore.QSize(*DEFAULT_SIZE)
        screen = self.screen()
        if screen is not None:
            size = size.boundedTo(screen.availableGeometry().size())
        self.resize(size)

    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&File")
        toolbar = self.addToolBar("main")
        toolbar.setObjectName("main-toolbar")
        self.actions: dict[str, QtGui.QAction] = {}
        for key, text, shortcut, slot in (
                ("open_preset", "Open &preset…", "Ctrl+P", self.preset_panel._ask_for_file),
                ("open_file", "Open &audio file…", "Ctrl+O", self._ask_for_audio_file),
                ("export", "&Export stems…", "Ctrl+E", self._ask_for_export),
                ("learn_voice", "Learn my &voice…", "Ctrl+Shift+V", self.open_enrol_dialog),
                ("learn_room", "Learn my &room…", "Ctrl+Shift+R",
                 lambda: self.open_enrol_dialog("room")),
                ("learn", "&Learn a source…", "Ctrl+L", self.open_learn_dialog),
                ("quit", "&Quit", "Ctrl+Q", self.close)):
            action = QtGui.QAction(text, self)
            action.setShortcut(QtGui.QKeySequence(shortcut))
            action.triggered.connect(slot)
            menu.addAction(action)
            if key in ("open_file", "export", "learn"):
                toolbar.addAction(action)
            self.actions[key] = action
        toolbar.addSeparator()
        toolbar.addWidget(self.strength)

    # ------------------------------------------------------------------ settings
    def _restore(self, preset: str | None, file: str | os.PathLike[str] | None) -> None:
        get = self.settings.value
        geometry = get("window/geometry")
        if isinstance(geometry, QtCore.QByteArray):
            self.restoreGeometry(geometry)
        panel = self.audio_panel
        panel.restore(get)
        self.strength.set_percent(int(get("strength", 100) or 0))
        chosen = preset or get("preset")
        if chosen:  # a preset that went away: the panel's dialog says so
            self.preset_panel.select(str(chosen))
        elif self.preset_panel.list.count():  # the default for the devices' rate
            name = default_preset(panel.stream_rate())
            listed = [path for path in self.preset_panel.paths if path.stem == name]
            if listed:
                self.preset_panel.select(listed[0])
            else:
                self.preset_panel.list.setCurrentRow(0)
        remembered = get("audio/file")
        target = file if file is not None else (remembered if remembered and
                                                Path(str(remembered)).is_file() else None)
        if target is not None:
            self.open_audio_file(target)
            if file is None and str(get("audio/from_file", "false")).lower() != "true":
                panel.from_input.setChecked(True)

    def save_settings(self) -> None:
        put, panel = self.settings.setValue, self.audio_panel
        put("window/geometry", self.saveGeometry())
        panel.save(put)
        put("strength", self.strength.slider.value())
        if panel.file is not None:
            put("audio/file", str(panel.file))
        if self.preset_panel.path is not None:
            put("preset", str(self.preset_panel.path))
        self.settings.sync()

    # ------------------------------------------------------------------ presets and files
    def _preset_chosen(self, preset: Preset, path: Path) -> None:
        live = self.live
        self.strips.set_sources(preset.source_names)
        self.views.configure(source_names=preset.source_names,
                             n_states=[s.n_states for s in preset.sources], sr=preset.sr,
                             n_fft=preset.n_fft, hop_length=preset.hop_length)
        if live is None:
            return
        if switchable(live.preset, preset):
            live.switch_preset(preset)  # the engine swaps models without a gap
            self._push_controls(live)
            self.status.show_message(f"switched to {preset.name}", 5000)
        else:  # other buffers: a new stream
            self.stop()
            self.start()

    def open_audio_file(self, path: str | os.PathLike[str]) -> bool:
        """Use this file in file mode; False (and a dialog) if it cannot be read."""
        try:
            signal, rate = audio.load(path, mono=True)
        except LivesepError as error:
            error_dialog(self, "livesep: cannot open this audio file", str(error))
            return False
        self._file_audio = (Path(path), signal, rate)
        self.audio_panel.set_file(path)
        return True

    def _ask_for_audio_file(self) -> None:
        folder = str(self.settings.value("folders/audio", ""))
        name, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open an audio file to separate", folder,
            "audio (" + " ".join(f"*{e}" for e in audio.AUDIO_EXTENSIONS) + ");;all files (*)")
        if name:
            self.settings.setValue("folders/audio", str(Path(name).parent))
            self.open_audio_file(name)

    # ------------------------------------------------------------------ the stream
    def start(self) -> bool:
        """Start separating with the panels' choices; False (and a dialog) on failure."""
        if self.live is not None:
            return True
        preset = self.preset_panel.preset
        if preset is None:
            error_dialog(self, "livesep", "choose a preset first")
            return False
        choices = self.audio_panel.choices()
        options = dict(input_device=choices.input_device, output_device=choices.output_device,
                       samplerate=choices.samplerate, blocksize=choices.blocksize,
                       output="auto", settings=choices.settings)
        file = None
        if choices.file is not None:
            if self._file_audio is None or self._file_audio[0] != choices.file:
                if not self.open_audio_file(choices.file):
                    return False
            assert self._file_audio is not None
            _, signal, rate = self._file_audio
            file = (signal, rate, choices.loop)
        host = InProcessSeparator if self.in_process else RemoteSeparator
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            live = host(preset, options, file)
            live.start()  # about a second: the child process imports and opens the devices
            self._push_controls(live)
            live.set_bypass(self.audio_panel.bypass.isChecked())
        except LivesepError as error:
            error_dialog(self, "livesep: cannot start", str(error))
            return False
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        self.live = live
        self.views.clear()
        self.silence.restart(time.monotonic())
        self._silence_hint = NO_SIGNAL_HINT if file is None else SILENT_FILE_HINT
        self.audio_panel.set_running(True)
        self.status.state.setText("running")
        self.timer.start()
        return True

    def stop(self) -> LiveStats | None:
        """Stop the stream (if any), show and return its final statistics."""
        live, self.live = self.live, None
        self.timer.stop()
        self.audio_panel.set_running(False)
        self.audio_panel.meter.show_level(None)
        self.views.set_warning("")
        if live is None:
            return None
        stats = live.stop()
        self.status.show_stats(stats)
        self.status.stopped(f"stopped after {stats.seconds:.1f} s")
        self.strips.show_levels([float("-inf")] * len(self.strips.strips))
        return stats

    def _push_controls(self, live: RemoteSeparator | InProcessSeparator) -> None:
        for s, (gain, muted, soloed) in enumerate(self.strips.controls()):
            live.set_gain(s, gain)
            live.set_muted(s, muted)
            live.set_soloed(s, soloed)
        live.set_strength(self.strength.strength)

    def _control(self, method: str, source: int, value: object) -> None:
        if self.live is not None:
            getattr(self.live, method)(source, value)

    def _strength(self, strength: float) -> None:
        if self.live is not None:
            self.live.set_strength(strength)

    def _bypass(self, on: bool) -> None:
        if self.live is not None:
            self.live.set_bypass(on)

    def tick(self) -> None:
        """One frame of the views: take the snapshots that arrived, redraw, update meters."""
        live = self.live
        if live is None:
            return
        self._ticks += 1
        update = live.poll(want_stats=self._ticks % _STATS_EVERY == 0)
        if update is None:
            if live.state == "error":
                self._stopped_by_error(live.error)
            else:
                self._watch_silence(None)
            return
        level = input_level(update.snapshots["spectrum"])
        if self.views.push(update.snapshots):
            self.strips.show_levels(source_levels(update.snapshots))
            self.audio_panel.meter.show_level(level)
        self._watch_silence(level)
        if update.stats is not None:
            self.status.show_stats(update.stats)
            self.status.show_fps(self.frames.update_rate())
            if live.duration is not None and update.position is not None:
                self.status.show_position(update.position, live.duration)
        if update.state != "running":
            self._stopped_by_error(update.error)
        elif update.finished:
            self.stop()
            self.status.show_message("reached the end of the file", 5000)

    def _watch_silence(self, level: InputLevel | None) -> None:
        silent = self.silence.update(level, time.monotonic())
        self.views.set_warning(self._silence_hint if silent else "")

    def _stopped_by_error(self, error: LivesepError | None) -> None:
        self.stop()
        if error is not None:
            error_dialog(self, "livesep: the stream stopped", describe_error(error))

    # ------------------------------------------------------------------ jobs
    def _ask_for_export(self) -> None:
        self.export_bar.ask(self.settings, self.audio_panel.file, self.preset_panel.preset)

    def export_stems(self, folder: str | os.PathLike[str], *, overwrite: bool = False) -> bool:
        """Separate the opened file into ``folder/<source>.wav`` in the background."""
        return self.export_bar.export(self.audio_panel.file, self.preset_panel.preset,
                                      Path(folder), overwrite=overwrite)

    def _exported(self, report: object) -> None:
        if report is not None:
            stems = getattr(report, "stems", ())
            folder = stems[0].parent if stems else ""
            self.status.show_message(f"exported {len(stems)} stems to {folder}", 10000)

    def open_learn_dialog(self) -> QtWidgets.QDialog:
        from livesep.gui.learn_dialog import LearnDialog

        folder = Path(str(self.settings.value("folders/learn", Path.home() / "livesep")))
        return self._open_maker(LearnDialog(
            self, base_presets=self.preset_panel.paths, current=self.preset_panel.path,
            folder=folder, input_device=self.audio_panel.choices().input_device), "learn")

    def open_enrol_dialog(self, step: str = "voice", **options: Any) -> QtWidgets.QDialog:
        """"Learn my voice" or "my room" (``step="room"``); ``options`` go to the dialog."""
        from livesep.gui.enrol_dialog import EnrolDialog, default_folder

        folder = Path(str(self.settings.value("folders/enrol", default_folder())))
        # With a full-band preset chosen and the audio at such a rate, the personal preset is
        # made full band too, to swap in.
        rate, chosen = self.audio_panel.stream_rate(), self.preset_panel.preset
        wide = chosen is not None and chosen.sr == FULL_BAND_SR and (rate or 0) >= FULL_BAND_RATE
        return self._open_maker(EnrolDialog(
            self, step=step, base_presets=self.preset_panel.paths,
            current=self.preset_panel.path, folder=folder,
            input_device=self.audio_panel.choices().input_device,
            input_name=self.audio_panel.input_device.currentText(),
            full_band=int(rate) if wide and rate else None, **options), "enrol")

    def _open_maker(self, dialog: Any, kind: str) -> QtWidgets.QDialog:
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.preset_saved.connect(lambda path: self._preset_made(Path(path), kind))
        dialog.open()
        return dialog

    def _preset_made(self, path: Path, kind: str) -> None:
        """List a preset a dialog saved and choose it, unless that would restart the
        running stream: it is then only listed."""
        self.settings.setValue(f"folders/{kind}", str(path.parent))
        if not self.preset_panel.open_file(path, choose=False):
            return  # the panel said why, in a dialog
        if self.live is None or switchable(self.live.preset, presets.load_meta(path)):
            self.preset_panel.open_file(path)
        else:
            self.status.show_message(f"{path.name} is in the preset list; choosing it "
                                     "restarts the stream (other rate or sources)", 15000)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Stop the stream and any export cleanly, remember the choices."""
        try:
            self.save_settings()
        finally:
            self.stop()
            if self.export_bar.running:
                self.export_bar.cancel()
                self.export_bar.wait()
        super().closeEvent(event)
