"""What :func:`livesep.presets.load_meta` reports: a preset file's header, without arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PresetInfo", "SourceInfo"]


class PresetSizes:
    """What follows from a preset's sources and n_fft, for :class:`Preset` and
    :class:`PresetInfo` alike (both have ``sources`` and ``n_fft``)."""

    sources: tuple[Any, ...]
    n_fft: int

    @property
    def source_names(self) -> tuple[str, ...]:
        """The sources' names, in order."""
        return tuple(source.name for source in self.sources)

    @property
    def n_sources(self) -> int:
        """How many sources the preset separates."""
        return len(self.sources)

    @property
    def n_bins(self) -> int:
        """``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def n_parameters(self) -> int:
        """The numbers held in every W, A and pi together."""
        return sum(source.n_parameters for source in self.sources)

    @property
    def nbytes(self) -> int:
        """The bytes the arrays take in memory once loaded (float32)."""
        return 4 * self.n_parameters


@dataclass(frozen=True)
class SourceInfo:
    """One source as a preset file's header describes it (no arrays).

    ``frames`` is 1, or the length of a convolutive source's templates (it then has one
    state and W is shaped (frames, n_bins, n_components)). ``layers`` is 0, or the layers of
    an unfolded source (it then has one state and one frame, and W is shaped (layers + 1,
    n_bins, n_components)). ``floor`` is 0, or the weight of the noise floor column the
    engine adds to the source.
    """

    name: str
    n_states: int
    n_bins: int
    n_components: int
    adaptive: bool
    provenance: dict[str, Any]
    frames: int = 1
    layers: int = 0
    floor: float = 0.0

    @property
    def n_parameters(self) -> int:
        """The numbers held in W, A and pi together."""
        blocks = self.frames * self.n_states * (self.layers + 1)  # at most one is not 1
        return blocks * self.n_bins * self.n_components + self.n_states * (self.n_states + 1)

    @property
    def nbytes(self) -> int:
        """The bytes W, A and pi take in memory (float32)."""
        return 4 * self.n_parameters


@dataclass(frozen=True)
class PresetInfo(PresetSizes):
    """What :func:`~livesep.presets.load_meta` reads: a preset file's header, no arrays."""

    path: Path
    file_size: int
    name: str
    description: str
    sr: int
    n_fft: int
    hop_length: int
    window: str
    model: str
    created: str
    livesep_version: str
    sources: tuple[SourceInfo, ...]
