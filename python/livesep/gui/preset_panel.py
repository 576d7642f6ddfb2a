"""The preset panel: the shipped presets with what they separate, and any preset file.

The list reads only each file's header (:func:`livesep.presets.load_meta`), so it fills
at once; the chosen preset is then loaded and fully checked. A file that fails either
step is explained in a dialog and the previous choice stays.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from PyQt6 import QtCore, QtWidgets

from livesep import presets
from livesep.errors import LivesepError
from livesep.gui.dialogs import error_dialog
from livesep.presets import Preset, PresetInfo
from livesep.presets.shipped import shipped_presets

__all__ = ["PresetPanel", "summary_html"]

_PATH_ROLE = QtCore.Qt.ItemDataRole.UserRole


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


class PresetPanel(QtWidgets.QGroupBox):
    """Lists presets; emits ``preset_chosen(preset, path)`` once one is loaded and valid."""

    preset_chosen = QtCore.pyqtSignal(object, object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Preset", parent)
        self.list = QtWidgets.QListWidget()
        self.list.setObjectName("preset-list")
        self.list.setMaximumHeight(150)  # the strips below need the room more
        self.details = QtWidgets.QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.details.setMinimumHeight(70)
        self.details.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.open_button = QtWidgets.QPushButton("Open preset file…")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(self.details)
        layout.addWidget(self.open_button)
        self.preset: Preset | None = None
        self.path: Path | None = None
        self._restoring = False
        self.open_button.clicked.connect(self._ask_for_file)
        self.list.currentItemChanged.connect(self._item_chosen)
        for path in shipped_presets():
            self._add(path, select=False)

    # ------------------------------------------------------------------ entries
    def _add(self, path: Path, *, select: bool) -> QtWidgets.QListWidgetItem | None:
        """Add (or find) a preset file's entry; a bad header shows a dialog, adds nothing."""
        path = Path(path).resolve()
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(_PATH_ROLE) == str(path):
                if select:
                    self.list.setCurrentItem(item)
                return item
        try:
            info = presets.load_meta(path)
        except LivesepError as error:
            self._bad_preset(path, error)
            return None
        item = QtWidgets.QListWidgetItem(f"{info.name}  —  {', '.join(info.source_names)}")
        item.setData(_PATH_ROLE, str(path))
        item.setToolTip(summary_html(info))
        self.list.addItem(item)
        if select:
            self.list.setCurrentItem(item)
        return item

    def open_file(self, path: str | os.PathLike[str]) -> bool:
        """Add a preset file to the list and choose it; False (and a dialog) if it is bad."""
        item = self._add(Path(path), select=False)
        if item is None:
            return False
        if self.list.currentItem() is item:
            return self.preset is not None and self.path == Path(path).resolve()
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
        except LivesepError as error:
            self._restoring = True  # go back to the preset in use
            self.list.setCurrentItem(previous)
            self._restoring = False
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
