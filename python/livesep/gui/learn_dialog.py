"""The "Learn a source" dialog: record N seconds from the input (or pick files), train a
model of that source on a worker thread with a progress bar, and save a new preset that
combines it with source models of an existing preset (e.g. your voice + the shipped
noise model). The analysis settings (rate, n_fft, hop) are the base preset's, which is
what lets the two be combined."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from PyQt6 import QtCore, QtGui, QtWidgets

from livesep import audio, presets
from livesep.errors import LivesepError, ParameterError
from livesep.gui.audio_panel import release_portaudio
from livesep.gui.dialogs import describe_error, error_dialog
from livesep.gui.workers import Task
from livesep.live.learning import learn_source, learned_preset, record_input
from livesep.models.train import TrainSettings
from livesep.presets import Preset

__all__ = ["LearnDialog"]


class LearnDialog(QtWidgets.QDialog):
    """Emits ``preset_saved(path)`` once the new preset is written."""

    preset_saved = QtCore.pyqtSignal(object)

    def __init__(self, parent: QtWidgets.QWidget | None, *, base_presets: Sequence[Path],
                 current: Path | None, folder: Path, input_device: int | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Learn a source")
        self.input_device = input_device
        self.folder = folder
        self.task: Task | None = None
        self.fractions: list[float] = []  # progress seen, for the tests
        self.name = QtWidgets.QLineEdit("voice")
        self.seconds = QtWidgets.QSpinBox()
        self.seconds.setRange(3, 600)
        self.seconds.setValue(20)
        self.seconds.setSuffix(" s")
        self.record_button = QtWidgets.QPushButton("Record from the input")
        self.add_button = QtWidgets.QPushButton("Add audio files…")
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.files = QtWidgets.QListWidget()
        self.files.setMaximumHeight(90)
        self.model = QtWidgets.QComboBox()
        self.model.addItem("N-HMM (states + transitions)", "nhmm")
        self.model.addItem("NMF (one dictionary)", "nmf")
        self.states = QtWidgets.QSpinBox()
        self.states.setRange(1, 200)
        self.states.setValue(10)
        self.components = QtWidgets.QSpinBox()
        self.components.setRange(1, 200)
        self.components.setValue(10)
        self.iterations = QtWidgets.QSpinBox()
        self.iterations.setRange(1, 1000)
        self.iterations.setValue(15)
        self.base = QtWidgets.QComboBox()
        self.base.addItem("(none: the learned source alone)", None)
        for path in base_presets:
            try:
                info = presets.load_meta(path)
            except LivesepError:
                continue
            self.base.addItem(f"{info.name} ({', '.join(info.source_names)})", str(path))
            if current is not None and Path(path) == Path(current):
                self.base.setCurrentIndex(self.base.count() - 1)
        self.keep = QtWidgets.QListWidget()
        self.keep.setMaximumHeight(70)
        self.out = QtWidgets.QLineEdit()
        self.browse_button = QtWidgets.QPushButton("…")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.train_button = QtWidgets.QPushButton("Train and save")
        self.cancel_button = QtWidgets.QPushButton("Close")
        self._layout()
        self.record_button.clicked.connect(self.record)
        self.add_button.clicked.connect(self._ask_for_files)
        self.remove_button.clicked.connect(
            lambda: [self.files.takeItem(self.files.row(i)) for i in self.files.selectedItems()])
        self.model.currentIndexChanged.connect(self._model_changed)
        self.base.currentIndexChanged.connect(self._base_changed)
        self.name.textChanged.connect(self._suggest_out)
        self.browse_button.clicked.connect(self._ask_for_out)
        self.train_button.clicked.connect(self.train)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        self._base_changed()
        self._suggest_out()

    def _layout(self) -> None:
        form = QtWidgets.QFormLayout()
        form.addRow("Source name", self.name)
        record = QtWidgets.QHBoxLayout()
        record.addWidget(self.seconds)
        record.addWidget(self.record_button, 1)
        form.addRow("Record", record)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        form.addRow("Examples", buttons)
        form.addRow("", self.files)
        model = QtWidgets.QHBoxLayout()
        for label, widget in (("states", self.states), ("components", self.components),
                              ("iterations", self.iterations)):
            model.addWidget(QtWidgets.QLabel(label))
            model.addWidget(widget)
        form.addRow("Model", self.model)
        form.addRow("", model)
        form.addRow("Combine with", self.base)
        form.addRow("keeping", self.keep)
        out = QtWidgets.QHBoxLayout()
        out.addWidget(self.out, 1)
        out.addWidget(self.browse_button)
        form.addRow("Save as", out)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.train_button)
        bottom.addWidget(self.cancel_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(bottom)

    # ------------------------------------------------------------------ inputs
    def _model_changed(self) -> None:
        nhmm = self.model.currentData() == "nhmm"
        self.states.setEnabled(nhmm)
        self.iterations.setValue(15 if nhmm else 200)

    def base_preset(self) -> Preset | None:
        path = self.base.currentData()
        return presets.load(path) if path else None

    def _base_changed(self) -> None:
        self.keep.clear()
        path = self.base.currentData()
        if not path:
            return
        for name in presets.load_meta(path).source_names:
            item = QtWidgets.QListWidgetItem(name)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            # Keep what is not the learned source's kind: e.g. the noise beside a new voice.
            clash = name.casefold() == self.name.text().strip().casefold()
            item.setCheckState(QtCore.Qt.CheckState.Unchecked if clash
                               else QtCore.Qt.CheckState.Checked)
            self.keep.addItem(item)

    def kept_sources(self) -> list[str]:
        return [self.keep.item(i).text() for i in range(self.keep.count())
                if self.keep.item(i).checkState() == QtCore.Qt.CheckState.Checked]

    def _suggest_out(self) -> None:
        if not self.out.isModified():
            name = self.name.text().strip() or "source"
            self.out.setText(str(self.folder / f"{name}.npz"))

    def add_files(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        for path in paths:
            self.files.addItem(str(path))

    def example_files(self) -> list[Path]:
        return [Path(self.files.item(i).text()) for i in range(self.files.count())]

    def _ask_for_files(self) -> None:
        names, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self, "Examples of the source", str(self.folder),
            "audio (" + " ".join(f"*{e}" for e in audio.AUDIO_EXTENSIONS) + ");;all files (*)")
        self.add_files(names)

    def _ask_for_out(self) -> None:
        name, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save the new preset", self.out.text(), "livesep presets (*.npz)")
        if name:
            self.out.setText(name if name.endswith(".npz") else name + ".npz")
            self.out.setModified(True)

    def settings(self) -> TrainSettings:
        base = self.base.currentData()
        info = presets.load_meta(base) if base else None
        model = self.model.currentData()
        return TrainSettings(
            model=model, n_components=self.components.value(),
            n_states=self.states.value() if model == "nhmm" else 1,
            sr=info.sr if info else 16000, n_fft=info.n_fft if info else 512,
            hop_length=info.hop_length if info else 128, n_iter=self.iterations.value())

    # ------------------------------------------------------------------ jobs
    def _run(self, job: object, what: str, finished: object) -> None:
        self.task = Task(job, self)  # type: ignore[arg-type]
        self.task.progress.connect(self._progress)
        self.task.done.connect(finished)
        self.task.failed.connect(lambda text: self._ended(f"{what} failed", text))
        self.task.cancelled.connect(lambda: self._ended(f"{what} cancelled", None))
        self._busy(True, what)
        self.fractions = []
        self.task.start()

    def _progress(self, fraction: float) -> None:
        self.fractions.append(fraction)
        if fraction < 0:
            self.progress.setRange(0, 0)  # busy, no fraction known
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * fraction))

    def _busy(self, busy: bool, what: str = "") -> None:
        for widget in (self.record_button, self.add_button, self.train_button, self.base,
                       self.model, self.name, self.out):
            widget.setEnabled(not busy)
        self.cancel_button.setText("Cancel" if busy else "Close")
        if busy:
            self.status.setText(f"{what}…")

    def _ended(self, message: str, error: str | None) -> None:
        self._busy(False)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status.setText(message)
        if error:
            error_dialog(self, f"livesep: {message}", error)

    def record(self) -> None:
        """Record the chosen seconds from the input device into a WAV example file."""
        seconds, device = float(self.seconds.value()), self.input_device
        rate = self.settings().sr
        name = self.name.text().strip() or "source"
        target = self.folder / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.wav"

        def job(progress: object) -> Path:
            try:
                samples, got = record_input(seconds, device=device, samplerate=rate,
                                            progress=progress)  # type: ignore[arg-type]
            finally:
                release_portaudio()  # as after a device scan: see gui.audio_panel
            return audio.write(target, samples, sr=got)

        def recorded(path: Path) -> None:
            self._ended(f"recorded {path.name}", None)
            self.add_files([path])

        self._run(job, "recording", recorded)

    def train(self) -> None:
        """Train the source on the example files, combine, save (all off the GUI thread)."""
        try:
            name = self.name.text().strip()
            files = self.example_files()
            if not name:
                raise ParameterError("give the source a name")
            if not files:
                raise ParameterError("record the source or add audio files of it first")
            out = Path(self.out.text()).expanduser()
            if out.suffix != ".npz":
                out = out.with_suffix(".npz")
            settings, base, keep = self.settings(), self.base_preset(), self.kept_sources()
        except LivesepError as error:
            error_dialog(self, "livesep: learn a source", describe_error(error))
            return

        def job(progress: object) -> Path:
            model = learn_source(name, files, settings, progress=progress)  # type: ignore
            preset = learned_preset(model, name=out.stem, settings=settings, base=base,
                                    keep=keep)
            out.parent.mkdir(parents=True, exist_ok=True)
            return presets.save(preset, out)

        def saved(path: Path) -> None:
            self._ended(f"saved {path}", None)
            self.preset_saved.emit(path)

        self._run(job, "training", saved)

    def _cancel_or_close(self) -> None:
        if self.task is not None and self.task.isRunning():
            self.task.cancel()
        else:
            self.close()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Close once the job has stopped: destroying a running QThread aborts the app.
        A cancelled job stops at its next progress report (the N-HMM's initialisation
        reports none, so that can take a few seconds)."""
        task = self.task
        if task is not None and task.isRunning():
            task.cancel()
            self.status.setText("cancelling…")
            task.finished.connect(self.close)
            event.ignore()
            return
        super().closeEvent(event)
