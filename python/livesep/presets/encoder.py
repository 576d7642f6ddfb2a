"""A preset's recurrent encoder (model ``"nae"``, format version 3): the weights that turn the
mixture's frames into its sources' activations, in place of the activation fit.

Per frame of mixture magnitudes ``m`` (F bins): ``x = log(m^2 + 1e-10)`` or, for a noise-aware
encoder (version 6), 2F features against the stream's noise floor ``N`` (its power per bin,
:class:`livesep.spectral.NoiseFloor`; zero before any sound), with ``r = mean(N) + 1e-20``:
``x_f = clip(log10((m_f^2 + 1e-20) / (N_f + 1e-20 + 1e-6 r)), -3, 6)`` (the a posteriori SNR)
and ``x_{F+f} = clip(log10((m_f^2 + 1e-20) / r), -6, 6)``; then ``z = tanh(W_in x +
b_in)``, ``L`` GRU layers of ``H`` units (PyTorch's equations, gates in the order reset,
update, new), then per source ``h_s = scale_s * softplus(W_s g + b_s)`` (``K_s`` values, ``g``
the last layer's state). Source ``s``'s estimate is its dictionary ``W[0]`` (F x K_s, columns
summing to one) times ``h_s``: the non-negative decoder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep.checks import check_int, show
from livesep.errors import ParameterError
from livesep.presets.checks import Invalid
from livesep.presets.format import FORMAT_VERSIONS, MAX_ENCODER_LAYERS, MAX_HIDDEN

__all__ = ["Encoder", "ENCODER_KEY", "FEATURE_FLOOR", "check_encoder_entry"]

#: Added to the squared magnitudes before their logarithm.
FEATURE_FLOOR = 1e-10
#: The name of an encoder array entry in a preset file (without ``.npy``).
ENCODER_KEY = re.compile(r"encoder\.(input_weights|input_bias|"
                         r"layer(0|[1-9][0-9]*)\.(gate_inputs|gate_hiddens|gate_input_biases|"
                         r"gate_hidden_biases)|"
                         r"source(0|[1-9][0-9]*)\.(output_weights|output_biases|output_scales))")

_LAYER_ARRAYS = ("gate_inputs", "gate_hiddens", "gate_input_biases", "gate_hidden_biases")
_SOURCE_ARRAYS = ("output_weights", "output_biases", "output_scales")

Matrix = npt.NDArray[np.float32]


def _array(name: str, value: npt.ArrayLike, shape: tuple[int, ...]) -> Matrix:
    array = np.array(value, dtype=np.float32)
    if array.shape != shape:
        raise ParameterError(f"encoder {name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ParameterError(f"encoder {name} holds a non-finite value")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Encoder:
    """The weights of a recurrent encoder (see the module's description), float32, read-only.

    Parameters
    ----------
    input_weights : array-like, shape (H, F)
    input_bias : array-like, shape (H,)
    gate_inputs, gate_hiddens : sequence of array-like, each shape (3 H, H)
        Per recurrent layer.
    gate_input_biases, gate_hidden_biases : sequence of array-like, each shape (3 H,)
    output_weights : sequence of array-like, each shape (K_s, H)
        Per source.
    output_biases, output_scales : sequence of array-like, each shape (K_s,)
        Scales are positive.
    noise_aware : bool
        Features against the noise floor: ``input_weights`` is then (H, 2 F).

    Raises
    ------
    ParameterError
        If a shape disagrees, a value is not finite or a scale is not positive.
    """

    input_weights: Matrix
    input_bias: Matrix
    gate_inputs: tuple[Matrix, ...]
    gate_hiddens: tuple[Matrix, ...]
    gate_input_biases: tuple[Matrix, ...]
    gate_hidden_biases: tuple[Matrix, ...]
    output_weights: tuple[Matrix, ...]
    output_biases: tuple[Matrix, ...]
    output_scales: tuple[Matrix, ...]
    noise_aware: bool = False

    def __post_init__(self) -> None:
        weights = np.asarray(self.input_weights)
        if not isinstance(self.noise_aware, bool):
            raise ParameterError(f"encoder noise_aware must be True or False, got "
                                 f"{show(self.noise_aware)}")
        inputs = 4 if self.noise_aware else 2
        if weights.ndim != 2 or not 1 <= weights.shape[0] <= MAX_HIDDEN or \
                weights.shape[1] < inputs or weights.shape[1] % (inputs // 2):
            raise ParameterError(f"encoder input_weights must be (H, {inputs // 2} F) with H in "
                                 f"[1, {MAX_HIDDEN}] and F >= 2, got shape {weights.shape}")
        h = weights.shape[0]
        set_ = object.__setattr__
        set_(self, "input_weights", _array("input_weights", weights, weights.shape))
        set_(self, "input_bias", _array("input_bias", self.input_bias, (h,)))
        n_layers = len(self.gate_inputs)
        if not 1 <= n_layers <= MAX_ENCODER_LAYERS:
            raise ParameterError(f"an encoder has 1 to {MAX_ENCODER_LAYERS} recurrent layers, "
                                 f"got {n_layers}")
        for key, shape in zip(_LAYER_ARRAYS, ((3 * h, h), (3 * h, h), (3 * h,), (3 * h,))):
            values = tuple(getattr(self, key))
            if len(values) != n_layers:
                raise ParameterError(f"encoder {key} needs one array per layer ({n_layers}), "
                                     f"got {len(values)}")
            set_(self, key, tuple(_array(f"layer{i}.{key}", v, shape)
                                  for i, v in enumerate(values)))
        n_sources = len(self.output_weights)
        if n_sources < 1:
            raise ParameterError("an encoder needs output weights for at least one source")
        outputs = []
        for i, value in enumerate(self.output_weights):
            shape = np.shape(value)
            if len(shape) != 2 or shape[0] < 1 or shape[1] != h:
                raise ParameterError(f"encoder source{i}.output_weights must be (K, {h}), got "
                                     f"shape {shape}")
            outputs.append(_array(f"source{i}.output_weights", value, shape))
        set_(self, "output_weights", tuple(outputs))
        for key in ("output_biases", "output_scales"):
            values = tuple(getattr(self, key))
            if len(values) != n_sources:
                raise ParameterError(f"encoder {key} needs one array per source ({n_sources}), "
                                     f"got {len(values)}")
            set_(self, key, tuple(_array(f"source{i}.{key}", v, (w.shape[0],))
                                  for i, (v, w) in enumerate(zip(values, outputs))))
        if any(np.any(scale <= 0) for scale in self.output_scales):
            raise ParameterError("encoder output_scales must be positive")

    @property
    def n_hidden(self) -> int:
        """Units per recurrent layer, H."""
        return int(self.input_weights.shape[0])

    @property
    def n_layers(self) -> int:
        """Recurrent layers, L."""
        return len(self.gate_inputs)

    @property
    def n_bins(self) -> int:
        """Frequency bins of the frames it encodes, F."""
        return int(self.input_weights.shape[1]) // (2 if self.noise_aware else 1)

    @property
    def n_components(self) -> tuple[int, ...]:
        """Activations per source, K_s."""
        return tuple(int(w.shape[0]) for w in self.output_weights)

    @property
    def n_parameters(self) -> int:
        """Numbers it holds."""
        return sum(int(a.size) for a in self.arrays().values())

    def arrays(self) -> dict[str, Matrix]:
        """The preset file entries (names without ``.npy``) holding it."""
        entries = {"encoder.input_weights": self.input_weights,
                   "encoder.input_bias": self.input_bias}
        for key in _LAYER_ARRAYS:
            for layer, value in enumerate(getattr(self, key)):
                entries[f"encoder.layer{layer}.{key}"] = value
        for key in _SOURCE_ARRAYS:
            for source, value in enumerate(getattr(self, key)):
                entries[f"encoder.source{source}.{key}"] = value
        return entries

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.ArrayLike], *, n_layers: int,
                    n_sources: int, noise_aware: bool = False) -> Encoder:
        """The encoder held by preset file entries (as :meth:`arrays` names them)."""
        def get(name: str) -> npt.ArrayLike:
            if name not in arrays:
                raise ParameterError(f"missing encoder array {name!r}")
            return arrays[name]
        return cls(get("encoder.input_weights"), get("encoder.input_bias"),
                   *(tuple(get(f"encoder.layer{layer}.{key}") for layer in range(n_layers))
                     for key in _LAYER_ARRAYS),
                   *(tuple(get(f"encoder.source{source}.{key}") for source in range(n_sources))
                     for key in _SOURCE_ARRAYS), noise_aware=noise_aware)

    @staticmethod
    def expected_shapes(*, n_hidden: int, n_layers: int, n_bins: int,
                        n_components: Sequence[int], noise_aware: bool = False
                        ) -> dict[str, tuple[int, ...]]:
        """Every entry's shape for an encoder of these sizes (to check file headers)."""
        h = n_hidden
        inputs = 2 * n_bins if noise_aware else n_bins
        shapes: dict[str, tuple[int, ...]] = {"encoder.input_weights": (h, inputs),
                                              "encoder.input_bias": (h,)}
        for layer in range(n_layers):
            for key, shape in zip(_LAYER_ARRAYS, ((3 * h, h), (3 * h, h), (3 * h,), (3 * h,))):
                shapes[f"encoder.layer{layer}.{key}"] = shape
        for source, k in enumerate(n_components):
            for key, shape in zip(_SOURCE_ARRAYS, ((k, h), (k,), (k,))):
                shapes[f"encoder.source{source}.{key}"] = shape
        return shapes

    def engine_weights(self) -> dict[str, Any]:
        """The dict of arrays :class:`livesep._core.Model` takes as ``encoder``."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in self.__dict__.items()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Encoder):
            return NotImplemented
        mine, theirs = self.arrays(), other.arrays()
        return self.noise_aware == other.noise_aware and mine.keys() == theirs.keys() and all(
            np.array_equal(mine[key], theirs[key]) for key in mine)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Encoder(bins={self.n_bins}, hidden={self.n_hidden}, layers={self.n_layers}, "
                f"components={list(self.n_components)}"
                f"{', noise_aware=True' if self.noise_aware else ''})")


def check_encoder_entry(value: object, *, version: int, model: object
                        ) -> dict[str, Any] | None:
    """``meta["encoder"]`` (absent: None): the sizes of model ``"nae"``'s recurrent encoder,
    ``{"hidden": H, "layers": L}``, in version 3 files and only beside that model, and from
    version 6 on ``"features": "noise-aware"`` for an encoder that reads the noise floor;
    returned with ``noise_aware`` (a bool) in place of ``features``."""
    if value is None:
        if model == "nae":
            raise Invalid("model is 'nae' but meta has no 'encoder' field (its sizes)")
        return None
    if version < FORMAT_VERSIONS[2]:
        raise Invalid(f"encoder ({show(value)}) is not a field of version {version} files: "
                      f"recurrent encoders came with version {FORMAT_VERSIONS[2]}")
    if model != "nae":
        raise Invalid(f"meta has an 'encoder' field but model is {show(model)}, not 'nae'")
    if not isinstance(value, dict) or sorted(set(value) - {"features"}) != ["hidden", "layers"]:
        raise Invalid(f"encoder must be a JSON object with the fields 'hidden' and 'layers' "
                      f"(and 'features'), got {show(value)}")
    if "features" in value:
        if version < FORMAT_VERSIONS[5]:
            raise Invalid(f"encoder.features is not a field of version {version} files: "
                          f"noise-aware encoders came with version {FORMAT_VERSIONS[5]}")
        if value["features"] != "noise-aware":
            raise Invalid(f"encoder.features must be 'noise-aware', got "
                          f"{show(value['features'])}")
    return {"hidden": check_int("encoder.hidden", value["hidden"], low=1, high=MAX_HIDDEN,
                                error=Invalid),
            "layers": check_int("encoder.layers", value["layers"], low=1,
                                high=MAX_ENCODER_LAYERS, error=Invalid),
            "noise_aware": "features" in value}
