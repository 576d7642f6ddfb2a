"""Live separation: a PortAudio stream around the C++ engine, and what runs beside it.

:class:`LiveSeparator` (:mod:`~livesep.live.host`) opens the devices and owns the stream;
its :class:`~livesep.live.controls.Controls` (gain, mute, solo, bypass) reach the engine
through atomics, its :class:`~livesep.live.monitor.Monitor` turns the callback's timings
into :class:`~livesep.live.stats.LiveStats` and steers the
:class:`~livesep.live.governor.QualityGovernor`. Beside it: PortAudio devices
(:mod:`~livesep.live.devices`), recording (:mod:`~livesep.live.recording`), the rate bridge
(:mod:`~livesep.live.bridge`), playing a file as if live (:mod:`~livesep.live.fileplay`),
the stream in a child process for the desktop app (:mod:`~livesep.live.remote`) and
recording and training a source of your own (:mod:`~livesep.live.learning`). Nothing here
imports Qt.
"""

from __future__ import annotations

from livesep.live.fileplay import FileSeparator
from livesep.live.host import LIVE_OUTPUTS, LiveSeparator
from livesep.live.stats import LiveStats, source_levels

__all__ = ["FileSeparator", "LIVE_OUTPUTS", "LiveSeparator", "LiveStats", "source_levels"]
