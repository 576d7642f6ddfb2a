"""Combining sources of several presets into one with combine()."""

from __future__ import annotations

import pytest

from helpers.preset_files import HOP, N_FFT, SR, make_preset
from livesep.errors import ParameterError, PresetError
from livesep.presets import Preset, combine

# --------------------------------------------------------------------------- combining

def test_combine_takes_named_sources(preset: Preset) -> None:
    other = make_preset(name="shipped", names=("speech", "room noise"), seed=7)
    mixed = combine((preset, "voice"), (other, ["room noise"]), name="mine")
    assert mixed.source_names == ("voice", "room noise")
    assert mixed.sources[0] == preset.sources[0]
    assert mixed.sources[1] == other.sources[1]
    assert (mixed.sr, mixed.n_fft, mixed.hop_length) == (SR, N_FFT, HOP)
    assert mixed.model == "nhmm"
    assert "voice from 'two'" in mixed.description
    assert "room noise from 'shipped'" in mixed.description
    only_nmf = combine((preset, "noise"), name="noise only", description="")
    assert only_nmf.model == "nmf" and only_nmf.description == ""
    whole = combine(preset, (other, "speech"), name="three")
    assert whole.source_names == ("voice", "noise", "speech")


@pytest.mark.parametrize("change, field, values", [
    ({"sr": 22050}, "sr", ("16000", "22050")),
    ({"hop_length": 32}, "hop_length", ("16", "32")),
    ({"n_fft": 128, "hop_length": 32}, "n_fft", ("64", "128")),
])
def test_combine_rejects_mismatched_settings(preset: Preset, change: dict[str, int],
                                             field: str, values: tuple[str, str]) -> None:
    other = make_preset(name="other", names=("drums", "bass"), **change)
    with pytest.raises(PresetError) as caught:
        combine((preset, "voice"), (other, "bass"), name="x")
    message = str(caught.value)
    for needle in (field, *values, "'two'", "'other'"):
        assert needle in message, message


def test_combine_rejects_duplicate_names_until_renamed(preset: Preset) -> None:
    other = make_preset(name="other", names=("Voice", "bass"), seed=3)
    with pytest.raises(PresetError, match="'Voice'.*'voice'"):
        combine((preset, "voice"), (other, "Voice"), name="x")
    renamed = other.with_sources([other.source("Voice").renamed("their voice")])
    mixed = combine((preset, "voice"), (renamed, "their voice"), name="x")
    assert mixed.source_names == ("voice", "their voice")


def test_combine_rejects_bad_parts(preset: Preset) -> None:
    with pytest.raises(ParameterError, match="no source 'drums'"):
        combine((preset, "drums"), name="x")
    with pytest.raises(ParameterError):
        combine("preset.npz", name="x")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        combine(name="x")
