"""The preset panel: the shipped presets with what they separate, any preset file, and the
buttons that make a voice preset of your own voice and room.

Only presets that load are listed: each file is read and fully checked
(:func:`livesep.presets.load`) before it gets an entry, since a file whose header is fine
can still hold broken arrays (the shipped ones take milliseconds). A shipped file that
fails is left out and named, with the reason, in a note under the list; a file opened by
hand that fails is explained in a dialog and the previous choice stays. Two entries that
would read the same get their file names added.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from pathlib import Path

from PyQt6 import QtCore, QtWidgets

from livesep import presets
from livesep.errors import LivesepError
from livesep.gui.dialogs import error_dialog
from livesep.presets import Preset, PresetInfo
from livesep.presets.shipped import shipped_presets

__all__ = ["PresetPanel", "summary_html", "switchable", "LIST_ROWS"]

#: Entries the list shows without scrolling: the source strips below need the room more.
LIST_ROWS = 6
_PATH_ROLE = QtCore.Qt.ItemDataRole.UserRole
_LABEL_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1  # the entry's text before disambiguation


def summary_html(info: PresetInfo | Preset) -> str:
    """Description, sources, rate and model of a preset, for the panel."""
    sources = ", ".join(
        f"{html.escape(s.name)} ({s.n_states}×{s.n_components}{', adaptive' if s.adaptive else ''})"
        for s in info.sources)
    text = (f"<b>{html.escape(info.name)}</b><br>{html.escape(info.description)}<br>"
            f"<i>sources:</i> {sources}<br><i>model:</i> {info.model.upper()}, "
            f"{info.sr} Hz, n_fft {info.n_fft}, hop {info.hop_length}")
    path = getattr(info, "path", None)
    return text + (f"<br><i>file:</i> {html.escape(str(path))}" if path else "")


def switchable(running: Preset, new: Preset | PresetInfo) -> bool:
    """Whether a stream running ``running`` can switch to ``new`` without a restart (the
    same rate, STFT and number of sources: the stream's buffers fit them)."""
    return all(getattr(running, key) == getattr(new, key)
               for key in ("sr", "n_fft", "hop_length", "n_sources"))


class PresetPanel(QtWidgets.QGroupBox):
    """Lists presets; emits ``preset_chosen(preset, path)`` once one is loaded and valid, and
    ``enrol_requested(step)`` for "Learn my voice" (``"voice"``) or "my room" (``"room"``)."""

    preset_chosen = QtCore.pyqtSignal(object, object)
    enrol_requested = QtCore.pyqtSignal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Preset", parent)
        self.list = QtWidgets.QListWidget()
        self.list.setObjectName("preset-list")
        self.note = QtWidgets.QLabel()
        self.note.setObjectName("preset-note")
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        self.details = QtWidgets.QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.details.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.open_button = QtWidgets.QPushButton("Open preset file…")
        self.voice_button = QtWidgets.QPushButton("Learn my voice…")
        self.voice_button.setToolTip("Read a short text aloud (about 30 s), then record your "
                                     "room: a voice preset of your own")
        self.room_button = QtWidgets.QPushButton("Learn my room…")
        self.room_button.setToolTip("Record your room without speech (about 10 s): a voice "
                                    "preset that knows its noise")
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.open_button, self.voice_button, self.room_button):
            buttons.addWidget(button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.list)
        layout.addWidget(self.note)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        self.preset: Preset | None = None
        self.path: Path | None = None
        #: Preset files left out of the list, with why.
        self.skipped: dict[Path, str] = {}
        self._restoring = False
        self.open_button.clicked.connect(self._ask_for_file)
        self.voice_button.clicked.connect(lambda: self.enrol_requested.emit("voice"))
        self.room_button.clicked.connect(lambda: self.enrol_requested.emit("room"))
        self.list.currentItemChanged.connect(self._item_chosen)
        for path in shipped_presets():
            try:
                self._add(Path(path), select=False)
            except LivesepError as error:
                self._skip(Path(path).resolve(), error)
        row = self.list.sizeHintForRow(0) if self.list.count() else self.fontMetrics().height()
        self.list.setMaximumHeight(LIST_ROWS * row + 2 * self.list.frameWidth())

    def skipped_summary(self) -> str:
        """One line naming the files left out and why ("" when none was)."""
        if not self.skipped:
            return ""
        count = len(self.skipped)
        reasons = "; ".join(f"{path.name}: {why}" for path, why in self.skipped.items())
        return (f"skipped {count} preset file{'s' if count > 1 else ''} that cannot be "
                f"loaded — {reasons}")

    def _skip(self, path: Path, error: LivesepError) -> None:
        self.skipped[path] = str(error).removeprefix(f"{path}: ")
        names = ", ".join(p.name for p in self.skipped)
        self.note.setText(f"<i>not listed (cannot be loaded): {html.escape(names)}</i>")
        self.note.setToolTip("\n".join(f"{p}: {why}" for p, why in self.skipped.items()))
        self.note.setVisible(True)

    # ------------------------------------------------------------------ entries
    def _add(self, path: Path, *, select: bool) -> QtWidgets.QListWidgetItem:
        """Add (or find) a preset file's entry once it loads and passes every check.

        Raises
        ------
        LivesepError
            If the file cannot be loaded as a preset.
        """
        path = Path(path).resolve()
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(_PATH_ROLE) == str(path):
                if select:
                    self.list.setCurrentItem(item)
                return item
        preset = presets.load(path)
        item = QtWidgets.QListWidgetItem()
        item.setData(_PATH_ROLE, str(path))
        item.setData(_LABEL_ROLE, f"{preset.name}  —  {', '.join(preset.source_names)}")
        item.setToolTip(summary_html(preset) + f"<br><i>file:</i> {html.escape(str(path))}")
        self.list.addItem(item)
        self._label_entries()
        if select:
            self.list.setCurrentItem(item)
        return item

    def _label_entries(self) -> None:
        """Each entry's text; entries that would read the same get their file's name (or,
        for files of the same name, their path) added."""
        items = [self.list.item(row) for row in range(self.list.count())]
        labels = [str(item.data(_LABEL_ROLE)) for item in items]
        paths = [Path(item.data(_PATH_ROLE)) for item in items]
        same_label = Counter(labels)
        same_name = Counter(zip(labels, (path.name for path in paths)))
        for item, label, path in zip(items, labels, paths):
            if same_label[label] == 1:
                item.setText(label)
            else:
                where = path.name if same_name[label, path.name] == 1 else str(path)
                item.setText(f"{label}  ({where})")

    def _remove(self, path: Path) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(_PATH_ROLE) == str(path):
                self._restoring = True  # taking the entry out must not choose another
                self.list.takeItem(row)
                self._restoring = False
                self._label_entries()
                return

    def open_file(self, path: str | os.PathLike[str], *, choose: bool = True) -> bool:
        """Add a preset file to the list and choose it (or only list it); False (and a
        dialog) if it is bad. The chosen entry's file is read again: it may have been
        rewritten (a personal preset made again)."""
        try:
            item = self._add(Path(path), select=False)
        except LivesepError as error:
            self._bad_preset(Path(path), error)
            return False
        if not choose:
            return True
        if self.list.currentItem() is item:
            self._item_chosen(item, item)
        else:
            self.list.setCurrentItem(item)
        return self.path == Path(path).resolve()

    def select(self, spec: str | os.PathLike[str]) -> bool:
        """Choose a preset by file path or shipped name (``male-female-nhmm``)."""
        from livesep.presets.shipped import resolve_preset

        try:
            path = resolve_preset(spec)
        except LivesepError as error:
            self._bad_preset(Path(str(spec)), error)
            return False
        return self.open_file(path)

    def _ask_for_file(self) -> None:
        start = str(self.path.parent) if self.path else ""
        name, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a livesep preset", start, "livesep presets (*.npz);;all files (*)")
        if name:
            self.open_file(name)

    # ------------------------------------------------------------------ choosing
    def _item_chosen(self, item: QtWidgets.QListWidgetItem | None,
                     previous: QtWidgets.QListWidgetItem | None) -> None:
        if item is None or self._restoring:
            return
        path = Path(item.data(_PATH_ROLE))
        try:
            preset = presets.load(path)
        except LivesepError as error:  # the file changed since it was listed
            self._restoring = True  # go back to the preset in use
            self.list.setCurrentItem(previous)
            self._restoring = False
            self._remove(path)
            self._skip(path, error)
            self._bad_preset(path, error)
            return
        self.preset, self.path = preset, path
        self.details.setText(summary_html(preset))
        self.preset_chosen.emit(preset, path)

    def _bad_preset(self, path: Path, error: LivesepError) -> None:
        error_dialog(self.window(), "livesep: cannot use this preset",
                     f"{path.name} cannot be used as a preset.\n\n{error}")

    @property
    def paths(self) -> list[Path]:
        """Every listed preset file, in list order."""
        return [Path(self.list.item(row).data(_PATH_ROLE)) for row in range(self.list.count())]
