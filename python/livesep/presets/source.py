"""One trained source: :class:`SourceModel`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep.checks import check_int, show
from livesep.errors import ParameterError
from livesep.presets.checks import (
    Invalid,
    as_float32,
    check_bool,
    check_floor,
    check_frames,
    check_layers,
    check_model_arrays,
    check_provenance,
    check_source_name,
)
from livesep.presets.format import ARRAYS, MAX_FRAMES

__all__ = ["SourceModel"]


@dataclass(frozen=True, eq=False, repr=False)
class SourceModel:
    """The trained model of one source: an N-HMM, or plain NMF when it has one state, or
    convolutive NMF (NMFD) when its templates span several frames, or unfolded NMF (deep
    NMF) when it has layers.

    Parameters
    ----------
    name : str
        The source's name (``"voice"``, ``"noise"``); also the stem of the file
        ``livesep separate`` writes, so it may not contain ``/`` or ``\\``.
    W : array-like, shape (n_states, n_bins, n_components), keyword-only
        One dictionary per state; every column ``W[q, :, k]`` sums to 1. For a convolutive
        source (``frames > 1``) shaped (frames, n_bins, n_components) instead: one block per
        time lag (``W[0]`` for the current frame, ``W[l]`` for the frame ``l`` back), and
        every template ``W[:, :, k]`` sums to 1 over lags and bins together. For an unfolded
        source (``layers > 0``) shaped (layers + 1, n_bins, n_components): one dictionary
        per layer of the fit, then the one its estimate is made with; every column sums to 1.
    A : array-like, shape (n_states, n_states), keyword-only
        Transition matrix, ``A[i, j] = P(q_t = j | q_t-1 = i)``; rows sum to 1.
    pi : array-like, shape (n_states,), keyword-only
        Initial state distribution; sums to 1.
    adaptive : bool, keyword-only
        Whether the engine may adapt this source's dictionaries to the input (false:
        fixed, as trained).
    frames : int, keyword-only
        1 (the default), or the length in frames (2 to 64) of a convolutive source's
        templates; such a source has one state (``A = [[1]]``, ``pi = [1]``) and is not
        adaptive. See :meth:`from_nmfd`.
    layers : int, keyword-only
        0 (the default), or the layers (1 to 64) of an unfolded source; such a source has
        one state and one frame, is not adaptive, and is trained together with the other
        sources of its preset, all unfolded alike. See :meth:`from_unfolded`.
    floor : float, keyword-only
        0 (the default), or the weight of a noise floor column: the engine gives the source
        one more component, the stationary noise it tracks in the stream
        (:func:`livesep.spectral.noise_floor`) rewritten every frame in every block, its
        column summing to ``floor`` (the frame sums to one). For a noise source that should
        follow a room it was not trained on; not with ``frames > 1`` or ``adaptive``.
    provenance : dict, keyword-only
        How the model was trained, as free-form JSON: by convention ``files``,
        ``seconds``, ``iterations``, ``log_likelihood``, ``seed``, ``settings``. numpy
        scalars and arrays and paths are converted to JSON values.

    Raises
    ------
    ParameterError
        If a shape, a dtype or a value is wrong (non-finite, negative, not stochastic).

    Notes
    -----
    The arrays are stored as read-only float32 copies and the model is immutable.
    """

    name: str
    _: KW_ONLY
    W: npt.NDArray[np.float32]
    A: npt.NDArray[np.float32]
    pi: npt.NDArray[np.float32]
    adaptive: bool = False
    frames: int = 1
    layers: int = 0
    floor: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            name = check_source_name("name", self.name)
            W, A, pi = (as_float32(key, getattr(self, key)) for key in ARRAYS)
            frames = check_int("frames", self.frames, low=1, high=MAX_FRAMES, error=Invalid)
            adaptive = check_bool("adaptive", self.adaptive)
            layers = check_layers("layers", self.layers, frames=frames, adaptive=adaptive)
            check_model_arrays(W, A, pi, prefix="", frames=frames, layers=layers)
            check_frames("frames", frames, n_states=A.shape[0], adaptive=adaptive)
            floor = check_floor("floor", self.floor, frames=frames, adaptive=adaptive)
            provenance = check_provenance("provenance", self.provenance)
        except Invalid as error:
            raise ParameterError(f"source {show(self.name)}: {error}") from None
        for key, value in (("name", name), ("W", W), ("A", A), ("pi", pi),
                           ("adaptive", adaptive), ("frames", frames), ("layers", layers),
                           ("floor", floor), ("provenance", provenance)):
            object.__setattr__(self, key, value)

    @classmethod
    def from_nmf(cls, name: str, W: npt.ArrayLike, *, adaptive: bool = False,
                 provenance: Mapping[str, Any] | None = None) -> SourceModel:
        """A plain NMF / PLCA model: one state, ``A = [[1]]``, ``pi = [1]``.

        Parameters
        ----------
        name : str
            The source's name.
        W : array-like, shape (n_bins, n_components)
            The dictionary; every column sums to 1.
        adaptive, provenance : keyword-only
            As for :class:`SourceModel`.

        Returns
        -------
        SourceModel
            With ``W`` of shape ``(1, n_bins, n_components)``.
        """
        dictionary = np.asarray(W)
        if dictionary.ndim != 2:
            raise ParameterError(f"source {show(name)}: an NMF dictionary W must be shaped "
                                 f"(n_bins, n_components), got shape {dictionary.shape}")
        return cls(name, W=dictionary[np.newaxis], A=np.ones((1, 1), np.float32),
                   pi=np.ones(1, np.float32), adaptive=adaptive,
                   provenance=dict(provenance or {}))

    @classmethod
    def from_nmfd(cls, name: str, W: npt.ArrayLike, *,
                  provenance: Mapping[str, Any] | None = None) -> SourceModel:
        """A convolutive NMF (NMFD) model: templates spanning several frames, one state.

        Parameters
        ----------
        name : str
            The source's name.
        W : array-like, shape (frames, n_bins, n_components)
            One block per time lag (``W[0]`` the current frame's, ``W[l]`` the one ``l``
            frames back), as :func:`livesep.models.nmfd.train_nmfd` learns it; every
            template ``W[:, :, k]`` sums to 1 over lags and bins together.
        provenance : keyword-only
            As for :class:`SourceModel`.

        Returns
        -------
        SourceModel
            With ``frames = W.shape[0]``, ``A = [[1]]``, ``pi = [1]``, not adaptive (with
            one frame, a plain NMF model).
        """
        dictionary = np.asarray(W)
        if dictionary.ndim != 3:
            raise ParameterError(f"source {show(name)}: an NMFD dictionary W must be shaped "
                                 f"(frames, n_bins, n_components), got shape "
                                 f"{dictionary.shape}")
        return cls(name, W=dictionary, A=np.ones((1, 1), np.float32),
                   pi=np.ones(1, np.float32), frames=dictionary.shape[0],
                   provenance=dict(provenance or {}))

    @classmethod
    def from_unfolded(cls, name: str, W: npt.ArrayLike, *, floor: float = 0.0,
                      provenance: Mapping[str, Any] | None = None) -> SourceModel:
        """An unfolded NMF (deep NMF) model: one dictionary per layer of the fit, one state.

        Unfolded sources (Le Roux, Hershey & Weninger, "Deep NMF for speech separation",
        ICASSP 2015) are trained together, through the very updates the engine runs: for
        each frame, the activations of all sources start flat, layer ``l`` makes one
        multiplicative update with every source's ``W[l]`` side by side, and source ``s``'s
        estimate is its ``W[layers]`` times its activations. A preset's sources are all
        unfolded with the same layers, or none is.

        Parameters
        ----------
        name : str
            The source's name.
        W : array-like, shape (layers + 1, n_bins, n_components)
            ``W[l]`` the dictionary of layer ``l`` (``l < layers``), ``W[layers]`` the one of
            the estimate; every column ``W[l, :, k]`` sums to 1. ``layers`` is 1 to 64.
        floor, provenance : keyword-only
            As for :class:`SourceModel`; the floor column joins every layer and the
            estimate.

        Returns
        -------
        SourceModel
            With ``layers = W.shape[0] - 1``, ``A = [[1]]``, ``pi = [1]``, not adaptive.
        """
        dictionary = np.asarray(W)
        if dictionary.ndim != 3 or dictionary.shape[0] < 2:
            raise ParameterError(f"source {show(name)}: an unfolded source's W must be shaped "
                                 f"(layers + 1, n_bins, n_components) with layers >= 1, got "
                                 f"shape {dictionary.shape}")
        return cls(name, W=dictionary, A=np.ones((1, 1), np.float32),
                   pi=np.ones(1, np.float32), layers=dictionary.shape[0] - 1, floor=floor,
                   provenance=dict(provenance or {}))

    @property
    def n_states(self) -> int:
        """Q, the number of states (1 for a convolutive or an unfolded source)."""
        return 1 if self.frames > 1 or self.layers > 0 else int(self.W.shape[0])

    @property
    def n_bins(self) -> int:
        """F, the number of frequency bins (``n_fft // 2 + 1``)."""
        return int(self.W.shape[1])

    @property
    def n_components(self) -> int:
        """K, the number of dictionary columns per state (templates, if convolutive; per
        layer, if unfolded)."""
        return int(self.W.shape[2])

    @property
    def n_parameters(self) -> int:
        """The numbers held in W, A and pi together."""
        return int(self.W.size + self.A.size + self.pi.size)

    @property
    def nbytes(self) -> int:
        """The bytes W, A and pi take (float32)."""
        return 4 * self.n_parameters

    def renamed(self, name: str) -> SourceModel:
        """The same model under another name (to combine two sources called alike)."""
        return dataclasses.replace(self, name=name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceModel):
            return NotImplemented
        return (self.name == other.name and self.adaptive == other.adaptive
                and self.frames == other.frames and self.layers == other.layers
                and self.floor == other.floor
                and self.provenance == other.provenance
                and all(np.array_equal(getattr(self, key), getattr(other, key))
                        for key in ARRAYS))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        frames = f", frames={self.frames}" if self.frames > 1 else ""
        layers = f", unfolded, {self.layers} layers" if self.layers else ""
        floor = f", floor={self.floor:g}" if self.floor else ""
        return (f"SourceModel({self.name!r}, n_states={self.n_states}, "
                f"n_bins={self.n_bins}, n_components={self.n_components}, "
                f"adaptive={self.adaptive}{frames}{layers}{floor})")
