""""Learn my voice" and "Learn my room": the user reads a text aloud (about 30 s), then lets
the room be heard without speech (about 10 s), from the input device or from files; a
personal voice preset is trained from them on a worker thread with a progress bar
(:func:`livesep.live.learning.personal_preset`), the model of a skipped recording taken from
a base preset (enrolment's default, or the chosen preset if it is one of its kind), and it
is saved and handed to the window, which lists it and swaps it into a running stream.

One page per step (the voice, the room, the build); either recording may be skipped, not
both. Each recording is a :class:`~livesep.gui.audio_panel.TakePanel`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PyQt6 import QtCore, QtGui, QtWidgets

from livesep import presets
from livesep.errors import LivesepError
from livesep.gui.audio_panel import TakePanel
from livesep.gui.dialogs import error_dialog
from livesep.gui.workers import Task
from livesep.live.learning import (
    FULL_BAND_SR,
    READING_TEXT,
    ROOM_SECONDS,
    VOICE_BASE,
    VOICE_SECONDS,
    personal_preset,
    voice_base,
)
from livesep.models.train import ENROLMENT_BASE, MIN_ROOM_SECONDS, MIN_VOICE_SECONDS
from livesep.presets.shipped import FULL_BAND_RATE, resolve_preset

__all__ = ["EnrolDialog", "default_folder", "free_file", "STEPS"]

STEPS = ("voice", "room", "build")
_INTROS = {
    "voice": "<b>Your voice.</b> Press Record and read the text below aloud, at your usual "
             "pace, loudness and distance from the microphone. The recording stops by itself "
             "after {seconds:g} s: you need not finish the text, and if you do, start it again.",
    "room": "<b>Your room.</b> Press Record and stay quiet for {seconds:g} s: the recording "
            "catches the sound of your room without your voice. Leave on what is usually on "
            "while you talk (fan, computer, heating).",
}


def default_folder() -> Path:
    """Where personal presets are saved until the user picks another folder: the app's
    data folder."""
    data = QtCore.QStandardPaths.writableLocation(
        QtCore.QStandardPaths.StandardLocation.AppDataLocation)
    return (Path(data) if data else Path.home() / "livesep") / "presets"


def free_file(folder: Path, stem: str) -> Path:
    """``folder/stem.npz``, or ``stem-2.npz``, ``stem-3.npz``… whichever does not exist."""
    path, number = folder / f"{stem}.npz", 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}.npz"
    return path


class EnrolDialog(QtWidgets.QDialog):
    """Learn my voice, then my room, then build; emits ``preset_saved(path)`` once the
    personal preset is written.

    Parameters
    ----------
    parent : QWidget or None
    step : {"voice", "room"}
        The page to open at ("Learn my room…" opens at the room).
    base_presets : sequence of Path
        The listed presets; those that enrolment can start from
        (:func:`~livesep.live.learning.voice_base`), and its default base, are offered.
    current : Path or None
        The chosen preset: the base if it can be one, else enrolment's default base.
    folder : Path
        Where the personal preset is saved unless the user picks another file.
    input_device : int or None
        The input to record from (None: the default input); ``input_name`` names it.
    seconds, least : (float, float)
        How long the voice and room takes last, and the least that is kept.
    full_band : int or None
        The input's rate, 44.1 kHz or above, when the chosen preset is full band: the takes
        are recorded at it, and with both of them at such a rate the personal preset is made
        over the full band at :data:`~livesep.live.learning.FULL_BAND_SR`, so that it swaps
        into that preset's stream without a restart; otherwise at the base's rate.
    """

    preset_saved = QtCore.pyqtSignal(object)

    def __init__(self, parent: QtWidgets.QWidget | None, *, step: str = "voice",
                 base_presets: Sequence[Path], current: Path | None, folder: Path,
                 input_device: int | None = None, input_name: str = "the default input",
                 seconds: tuple[float, float] = (VOICE_SECONDS, ROOM_SECONDS),
                 least: tuple[float, float] = (MIN_VOICE_SECONDS, MIN_ROOM_SECONDS),
                 full_band: int | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Learn my room" if step == "room" else "Learn my voice")
        self.folder = folder
        self.task: Task | None = None
        self.fractions: list[float] = []  # progress seen, for the tests
        self.base = QtWidgets.QComboBox()
        self.missing = self._list_bases(base_presets, current)
        self.full_band = full_band
        rate = full_band or (presets.load_meta(self.base.currentData()).sr if self.base.count()
                             else 16000)
        self.voice, self.room = (
            TakePanel(what, seconds=s, least=m, rate=rate, input_device=input_device,
                      input_name=input_name, folder=folder)
            for what, s, m in zip(("voice", "room"), seconds, least))
        self.reading = QtWidgets.QTextBrowser()
        self.reading.setPlainText(READING_TEXT)
        font = self.reading.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.reading.setFont(font)
        self.reading.setMinimumSize(600, 300)
        self.summary = QtWidgets.QLabel()
        self.out = QtWidgets.QLineEdit(str(free_file(folder, "my-voice")))
        self.browse_button = QtWidgets.QPushButton("…")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.pages = QtWidgets.QStackedWidget()
        self.back_button = QtWidgets.QPushButton("‹ Back")
        self.next_button = QtWidgets.QPushButton()
        self.build_button = QtWidgets.QPushButton("Build and save")
        self.close_button = QtWidgets.QPushButton("Close")
        self._layout()
        for panel in (self.voice, self.room):
            panel.changed.connect(self._update)
            panel.busy.connect(self._update)
        self.back_button.clicked.connect(lambda: self.go(STEPS[self.pages.currentIndex() - 1]))
        self.next_button.clicked.connect(lambda: self.go(STEPS[self.pages.currentIndex() + 1]))
        self.browse_button.clicked.connect(self._ask_for_out)
        self.build_button.clicked.connect(self.build)
        self.close_button.clicked.connect(self._cancel_or_close)
        self.go(step)
        if self.missing:  # once the dialog is open: say it before anything is recorded
            QtCore.QTimer.singleShot(0, lambda: error_dialog(self, "livesep: learn my voice",
                                                             self.missing))

    def _list_bases(self, listed: Sequence[Path], current: Path | None) -> str:
        """Fill the base choice; return why there is none ("" when there is one)."""
        try:
            default: Path | None = resolve_preset(ENROLMENT_BASE).resolve()
            why = f"is not {VOICE_BASE}"
        except LivesepError as error:
            default, why = None, f"is not installed ({error})"
        paths = [default] if default is not None else []
        paths += [Path(p).resolve() for p in listed if Path(p).resolve() not in paths]
        for path in paths:
            try:
                info = presets.load_meta(path)
            except LivesepError as error:
                why = f"cannot be read ({error})" if path == default else why
                continue
            if voice_base(info):
                role = "the default base" if path == default else path.name
                self.base.addItem(f"{info.name} ({role})", str(path))
                if current is not None and path == Path(current).resolve():
                    self.base.setCurrentIndex(self.base.count() - 1)
        if self.base.count():
            return ""
        return (f"There is no preset to start your voice preset from: the default base "
                f"{ENROLMENT_BASE!r} {why}, and no listed preset is {VOICE_BASE}. Reinstall "
                "livesep, or open such a preset (Open preset file…) and try again.")

    def _layout(self) -> None:
        for what, panel, extra in (("voice", self.voice, self.reading),
                                   ("room", self.room, None)):
            page = QtWidgets.QWidget()
            column = QtWidgets.QVBoxLayout(page)
            intro = QtWidgets.QLabel(_INTROS[what].format(seconds=panel.seconds))
            intro.setWordWrap(True)
            column.addWidget(intro)
            if extra is not None:
                column.addWidget(extra, 1)
            column.addWidget(panel)
            column.addStretch(0 if extra is not None else 1)
            self.pages.addWidget(page)
        page = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(page)
        intro = QtWidgets.QLabel("<b>Your personal preset.</b> Models of your voice and your "
                                 "room are trained on what you recorded (up to about 20 s); "
                                 "the base gives the model of a recording you skipped, and "
                                 "the analysis settings.")
        intro.setWordWrap(True)
        form.addRow(intro)
        form.addRow("Recorded", self.summary)
        form.addRow("Base", self.base)
        out = QtWidgets.QHBoxLayout()
        out.addWidget(self.out, 1)
        out.addWidget(self.browse_button)
        form.addRow("Save as", out)
        form.addRow(self.progress)
        form.addRow(self.status)
        self.pages.addWidget(page)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.back_button)
        bottom.addStretch(1)
        for button in (self.next_button, self.build_button, self.close_button):
            bottom.addWidget(button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addLayout(bottom)

    # ------------------------------------------------------------------ steps
    @property
    def step(self) -> str:
        return STEPS[self.pages.currentIndex()]

    def go(self, step: str) -> None:
        """Show a step's page: ``"voice"``, ``"room"`` or ``"build"``."""
        self.pages.setCurrentIndex(STEPS.index(step))
        if step == "build" and not self.out.isModified():
            stem = "my-voice" if self.voice.take is not None else "my-room"
            self.out.setText(str(free_file(Path(self.out.text()).parent, stem)))
        self._update()

    def _update(self) -> None:
        busy = self.voice.running or self.room.running or (
            self.task is not None and self.task.isRunning())
        taken = [panel for panel in (self.voice, self.room) if panel.take is not None]
        step = self.step
        self.back_button.setVisible(step != "voice")
        self.back_button.setEnabled(not busy)
        self.next_button.setVisible(step != "build")
        current = self.voice if step == "voice" else self.room
        self.next_button.setText("Next ›" if current.take is not None else "Skip ›")
        alone = step == "room" and not taken  # skipping both leaves nothing to learn
        self.next_button.setEnabled(not busy and not alone)
        self.next_button.setToolTip("record your voice or your room (or both)" if alone else "")
        self.build_button.setVisible(step == "build")
        self.build_button.setEnabled(not busy and bool(taken) and self.base.count() > 0)
        self.close_button.setText("Cancel" if busy else "Close")
        self.summary.setText("<br>".join(
            f"your {panel.what}: " + (f"{panel.take[0].size / panel.take[1]:.1f} s from "
                                      f"{panel.origin}" if panel.take else "skipped")
            for panel in (self.voice, self.room)))

    # ------------------------------------------------------------------ building
    def _ask_for_out(self) -> None:
        name, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save the personal preset", self.out.text(), "livesep presets (*.npz)")
        if name:  # the file dialog has asked before replacing a file
            self.out.setText(name if name.endswith(".npz") else name + ".npz")
            self.out.setModified(True)

    def build(self) -> None:
        """Train the personal preset on a worker thread and save it; asks before replacing
        a file."""
        out = Path(self.out.text()).expanduser()
        out = out if out.suffix == ".npz" else out.with_suffix(".npz")
        if self.voice.take is None and self.room.take is None:
            error_dialog(self, "livesep: learn my voice", "record your voice or your room "
                                                          "(or both) first")
            return
        if not self.base.count():
            error_dialog(self, "livesep: learn my voice", self.missing)
            return
        if not out.exists():
            self._build(out)
            return
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Question, "livesep: replace the preset?",
            f"{out.name} already exists in {out.parent}. Replace it?",
            QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
            self)
        box.setObjectName("livesep-replace")
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        yes = QtWidgets.QMessageBox.StandardButton.Yes
        box.buttonClicked.connect(lambda button: box.standardButton(button) == yes
                                  and self._build(out))
        box.open()

    def _build(self, out: Path) -> None:
        voice, room, base = self.voice.take, self.room.take, Path(self.base.currentData())
        sr = FULL_BAND_SR if self.full_band and voice and room \
            and min(voice[1], room[1]) >= FULL_BAND_RATE else None

        def job(progress: Callable[[float], None]) -> Path:
            preset = personal_preset(voice, room, presets.load(base), name=out.stem,
                                     progress=progress, sr=sr)
            out.parent.mkdir(parents=True, exist_ok=True)
            return presets.save(preset, out)

        self.task = Task(job, self)
        self.task.progress.connect(self._progress)
        self.task.done.connect(self._saved)
        self.task.failed.connect(lambda text: self._ended("building failed", text))
        self.task.cancelled.connect(lambda: self._ended("cancelled", None))
        self.fractions = []
        self.status.setText("learning your "
                            + " and ".join(p.what for p in (self.voice, self.room) if p.take)
                            + (f" (full band, {sr} Hz)" if sr else "") + "…")
        self.task.start()
        self._update()

    def _progress(self, fraction: float) -> None:
        self.fractions.append(fraction)
        self.progress.setRange(0, 0 if fraction < 0 else 1000)  # no fraction: busy
        self.progress.setValue(int(1000 * max(fraction, 0.0)))

    def _saved(self, path: Path) -> None:
        self._ended(f"✓ saved {path}; it is now in the preset list", None)
        self.progress.setValue(1000)
        self.preset_saved.emit(path)

    def _ended(self, message: str, error: str | None) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status.setText(message)
        self._update()
        if error:
            error_dialog(self, "livesep: learn my voice", error)

    # ------------------------------------------------------------------ closing
    def _tasks(self) -> list[Task]:
        return [task for task in (self.voice.task, self.room.task, self.task)
                if task is not None and task.isRunning()]

    def _cancel_or_close(self) -> None:
        running = self._tasks()
        for task in running:
            task.cancel()
        if not running:
            self.close()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Close once every job has stopped: destroying a running QThread aborts the app."""
        running = self._tasks()
        if running:
            for task in running:
                task.cancel()
                task.finished.connect(self.close)
            self.status.setText("cancelling…")
            event.ignore()
            return
        super().closeEvent(event)
