"""Making a preset of source models taken from other presets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Union

from livesep.checks import show
from livesep.errors import ParameterError, PresetError
from livesep.presets.source import SourceModel
from livesep.presets.types import Preset

__all__ = ["combine"]

_Part = Union[Preset, tuple[Preset, Union[str, Iterable[str]]]]


def combine(*parts: _Part, name: str, description: str | None = None) -> Preset:
    """A new preset made of source models taken from other presets.

    For instance your own voice with the shipped noise model:
    ``combine((mine, "voice"), (shipped, "noise"), name="my voice in noise")``.

    Parameters
    ----------
    *parts : Preset or (Preset, str or iterable of str)
        A whole preset (all its sources), or a preset and the names of the sources to take.
    name : str, keyword-only
        The new preset's name.
    description : str or None, keyword-only
        ``None`` writes where each source came from.

    Returns
    -------
    Preset
        Model ``"nmf"`` if every source has one state (plain or convolutive), else
        ``"nhmm"``.

    Raises
    ------
    PresetError
        If the presets differ in sr, n_fft, hop_length or window, two chosen sources share a
        name (rename one with :meth:`SourceModel.renamed` first), or unfolded sources would
        be combined with sources of another preset: unfolded sources are trained together,
        so they combine only with the other sources of their own preset; the sources of a
        model ``"nae"`` preset need its encoder, so they are never combined.
    ParameterError
        If a part is not a preset, names a source the preset lacks, or ``name`` is invalid.
    """
    if not parts:
        raise ParameterError("combine needs at least one preset")
    reference: Preset | None = None
    chosen: list[SourceModel] = []
    origins: list[str] = []
    homes: list[Preset] = []
    for part in parts:
        if isinstance(part, Preset):
            preset, picked = part, list(part.source_names)
        elif (isinstance(part, tuple) and len(part) == 2 and isinstance(part[0], Preset)):
            preset = part[0]
            picked = [part[1]] if isinstance(part[1], str) else list(part[1])
        else:
            raise ParameterError(f"combine takes presets or (preset, source names) pairs, "
                                 f"got {show(part)}")
        if preset.encoder is not None:
            raise PresetError(
                f"cannot combine sources of preset {preset.name!r} (model 'nae'): their "
                f"activations come from the preset's recurrent encoder, trained with them, "
                f"so they separate only together, in their own preset")
        if preset.companion is not None:
            raise PresetError(
                f"cannot combine sources of preset {preset.name!r}: its masks are mixed with "
                f"its companion {preset.companion.name!r}'s, which separates the same sources "
                f"together")
        if reference is None:
            reference = preset
        for key in ("sr", "n_fft", "hop_length", "window"):
            if getattr(preset, key) != getattr(reference, key):
                raise PresetError(
                    f"cannot combine preset {preset.name!r} ({key}={getattr(preset, key)!r}) "
                    f"with preset {reference.name!r} ({key}={getattr(reference, key)!r}): "
                    f"{key} must be the same")
        for source_name in picked:
            source = preset.source(source_name)
            for earlier, origin in zip(chosen, origins):
                if earlier.name.casefold() == source.name.casefold():
                    raise PresetError(
                        f"cannot combine source {source.name!r} of preset {preset.name!r} "
                        f"with source {earlier.name!r} of preset {origin!r}: names must "
                        f"differ (rename one with SourceModel.renamed)")
            chosen.append(source)
            origins.append(preset.name)
            homes.append(preset)
    assert reference is not None
    _refuse_foreign_unfolded(chosen, homes)
    if description is None:
        description = "; ".join(f"{source.name} from {origin!r}"
                                for source, origin in zip(chosen, origins))
    model = "nmf" if all(source.n_states == 1 for source in chosen) else "nhmm"
    return Preset(name, description=description, sr=reference.sr, n_fft=reference.n_fft,
                  hop_length=reference.hop_length, window=reference.window, model=model,
                  sources=tuple(chosen))


def _refuse_foreign_unfolded(chosen: list[SourceModel], homes: list[Preset]) -> None:
    """Unfolded sources separate only beside the sources they were trained with: every
    chosen source comes from the preset of the first unfolded one."""
    unfolded = next((i for i, source in enumerate(chosen) if source.layers), None)
    if unfolded is None:
        return
    first, home = chosen[unfolded], homes[unfolded]
    for source, preset in zip(chosen, homes):
        if preset != home:
            kind = f"{source.layers} layers" if source.layers else "not unfolded"
            raise PresetError(
                f"cannot combine source {source.name!r} of preset {preset.name!r} ({kind}) "
                f"with unfolded source {first.name!r} of preset {home.name!r} "
                f"({first.layers} layers): unfolded sources are trained together, through "
                f"the same layered updates, so they combine only with the other sources of "
                f"their own preset")
