"""Recurrent encoders (model "nae"): round trip in format version 3, the Encoder's and the
preset's checks, rejection of bad files, combining refused, describe."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from helpers.preset_files import members_of, pack, rejected, unpack
from helpers.presets import random_encoder, random_encoder_preset, random_preset
from livesep.errors import ParameterError, PresetError
from livesep.presets import Encoder, Preset, combine, describe, load, load_meta, save


@pytest.mark.parametrize("layers, components", [(1, (5, 4)), (2, (3, 6, 2))])
def test_round_trip_writes_version_3(tmp_path: Path, layers: int,
                                     components: tuple[int, ...]) -> None:
    original = random_encoder_preset(components, hidden=7, layers=layers)
    path = save(original, tmp_path / "nae.npz")
    loaded = load(path)
    assert loaded == original and loaded.encoder == original.encoder
    assert loaded.encoder is not None and loaded.encoder.n_layers == layers
    assert not loaded.encoder.input_weights.flags.writeable
    meta, arrays = unpack(path)
    assert meta["version"] == 3 and meta["model"] == "nae"
    assert meta["encoder"] == {"hidden": 7, "layers": layers}
    assert arrays["encoder.layer0.gate_inputs"].shape == (21, 7)
    assert arrays[f"encoder.source{len(components) - 1}.output_scales"].shape == \
        (components[-1],)
    assert load_meta(path).model == "nae"
    text = describe(loaded)
    assert f"recurrent encoder: {layers} GRU layer" in text and "of 7 units" in text


def test_other_presets_keep_their_versions(tmp_path: Path) -> None:
    meta, _ = unpack(save(random_preset((2, 3)), tmp_path / "plain.npz"))
    assert meta["version"] == 1 and "encoder" not in meta


def test_the_encoder_checks_its_shapes_and_values() -> None:
    good = random_encoder(33, (3, 2), hidden=4, layers=2)
    fields = {f.name: getattr(good, f.name) for f in dataclasses.fields(good)}
    assert Encoder(**fields) == good
    cases = [
        (dict(input_bias=np.zeros(5)), r"input_bias must have shape \(4,\), got \(5,\)"),
        (dict(gate_inputs=fields["gate_inputs"][:1]), "one array per layer \\(1\\), got 2"),
        (dict(gate_hiddens=(np.zeros((12, 5)),) * 2), r"gate_hiddens must have shape"),
        (dict(output_scales=(np.ones(3), -np.ones(2))), "output_scales must be positive"),
        (dict(output_biases=(np.ones(3),)), "one array per source \\(2\\), got 1"),
        (dict(input_weights=np.full((4, 33), np.nan)), "non-finite"),
        (dict(output_weights=(np.ones((3, 5)), np.ones((2, 4)))), r"must be \(K, 4\)"),
        (dict(gate_inputs=(), gate_hiddens=(), gate_input_biases=(), gate_hidden_biases=()),
         "1 to 16 recurrent layers"),
    ]
    for change, message in cases:
        with pytest.raises(ParameterError, match=message):
            Encoder(**{**fields, **change})


def test_the_preset_checks_model_and_encoder_together() -> None:
    preset = random_encoder_preset((5, 4))
    with pytest.raises(ParameterError, match="model 'nae' needs an encoder"):
        dataclasses.replace(preset, encoder=None)
    with pytest.raises(ParameterError, match="an encoder needs model 'nae', got 'nmf'"):
        dataclasses.replace(preset, model="nmf")
    with pytest.raises(ParameterError, match=r"outputs \(\[4, 5\] components\)"):
        dataclasses.replace(preset, encoder=random_encoder(257, (4, 5)))
    with pytest.raises(ParameterError, match="takes 129 bins but n_fft=512 gives 257"):
        dataclasses.replace(preset, encoder=random_encoder(129, (5, 4)))
    assert preset.with_sources(preset.sources, name="renamed").encoder == preset.encoder
    assert preset.with_sources(preset.sources, model="nmf").encoder is None
    with pytest.raises(PresetError, match="cannot combine sources of preset 'recurrent'"):
        combine((preset, "source0"), name="half")


def _mutated(tmp_path: Path, saved: Path, change: object) -> Path:
    meta, arrays = unpack(saved)
    change(meta, arrays)  # type: ignore[operator]
    return pack(tmp_path / "bad.npz", members_of(meta, arrays))


@pytest.mark.parametrize("change, needles", [
    (lambda m, a: m.update(version=2), ["encoder", "not a field of version 2"]),
    (lambda m, a: m.pop("encoder"), ["model is 'nae' but meta has no 'encoder'"]),
    (lambda m, a: m.update(model="nmf"), ["'encoder' field but model is 'nmf'"]),
    (lambda m, a: m.update(encoder={"hidden": 7}), ["fields 'hidden' and 'layers'"]),
    (lambda m, a: m["encoder"].update(hidden=0), ["encoder.hidden", "0"]),
    (lambda m, a: a.pop("encoder.layer1.gate_hiddens"),
     ["missing array 'encoder.layer1.gate_hiddens'"]),
    (lambda m, a: a.update({"encoder.layer2.gate_inputs": np.zeros((21, 7), np.float32)}),
     ["encoder.layer2.gate_inputs", "do not declare"]),
    (lambda m, a: a.update({"encoder.input_bias": np.zeros(8, np.float32)}),
     ["encoder.input_bias", "(8,)", "(7,)"]),
    (lambda m, a: a.update({"encoder.source0.output_scales": np.zeros(5, np.float32)}),
     ["output_scales must be positive"]),
    (lambda m, a: a.update({"encoder.input_weights": np.full((7, 257), np.inf, np.float32)}),
     ["input_weights", "non-finite"]),
])
def test_bad_files_are_refused(tmp_path: Path, change: object, needles: list[str]) -> None:
    saved = save(random_encoder_preset((5, 4), hidden=7), tmp_path / "good.npz")
    rejected(_mutated(tmp_path, saved, change), *needles)


def test_a_preset_is_a_preset() -> None:
    preset = random_encoder_preset()
    assert isinstance(preset, Preset) and "encoder=Encoder(bins=257, hidden=8" in repr(preset)


def test_a_noise_aware_encoder_round_trips_in_version_6(tmp_path: Path) -> None:
    original = random_encoder_preset((5, 4), hidden=7, noise_aware=True)
    assert original.encoder.n_bins == 257 and original.encoder.input_weights.shape == (7, 514)
    path = save(original, tmp_path / "aware.npz")
    loaded = load(path)
    assert loaded == original and loaded.encoder.noise_aware
    assert loaded.encoder != dataclasses.replace(loaded.encoder, noise_aware=False,
                                                 input_weights=np.zeros((7, 514)))
    meta, _ = unpack(path)
    assert meta["version"] == 6
    assert meta["encoder"] == {"hidden": 7, "layers": 2, "features": "noise-aware"}
    assert "noise_aware=True" in repr(loaded.encoder)


@pytest.mark.parametrize("change, needles", [
    (lambda m: m.update(version=5), ["encoder.features is not a field of version 5 files",
                                     "noise-aware encoders came with version 6"]),
    (lambda m: m["encoder"].update(features="snr"),
     ["encoder.features must be 'noise-aware', got 'snr'"]),
    (lambda m: m["encoder"].pop("features"),
     ["encoder.input_weights: shape (7, 514) does not match"]),
])
def test_bad_noise_aware_encoders_are_refused(tmp_path: Path, change: object,
                                              needles: list[str]) -> None:
    meta, arrays = unpack(save(random_encoder_preset(hidden=7, noise_aware=True),
                               tmp_path / "aware.npz"))
    change(meta)  # type: ignore[operator]
    rejected(pack(tmp_path / "bad.npz", members_of(meta, arrays)), *needles)


def test_a_noise_aware_encoder_needs_twice_the_inputs() -> None:
    made = random_encoder(257, hidden=4)
    with pytest.raises(ParameterError, match=r"must be \(H, 2 F\)"):
        dataclasses.replace(made, input_weights=np.zeros((4, 257)), noise_aware=True)
    with pytest.raises(ParameterError, match="noise_aware must be True or False"):
        dataclasses.replace(made, noise_aware=1)
