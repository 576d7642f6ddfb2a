"""The ``livesep-preset`` format's names and limits (described in :mod:`livesep.presets`)."""

from __future__ import annotations

import re

from livesep.version import __version__

__all__ = [
    "ARRAYS",
    "ARRAY_KEY",
    "COMPANION_PREFIX",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "MAX_ELEMENTS",
    "MAX_ENCODER_LAYERS",
    "MAX_HIDDEN",
    "MAX_FRAMES",
    "MAX_LAYERS",
    "MAX_META_CHARS",
    "MAX_NAME_CHARS",
    "MAX_SOURCES",
    "MAX_SR",
    "MIN_SR",
    "MODELS",
    "PRESET_FIELDS",
    "PRESET_OPTIONAL",
    "SOURCE_FIELDS",
    "SOURCE_OPTIONAL",
    "SUM_TOLERANCE",
    "WINDOW",
    "running_version",
]

#: The ``format`` field of every preset file.
FORMAT_NAME = "livesep-preset"
#: The file format versions this livesep reads: 1; 2, which added unfolded sources
#: (``layers``); 3, which added recurrent encoders (model ``"nae"``); 4, which added noise
#: floors (``floor``); 5, which added a fit on the lower bins (``fit_bins``); 6, which added
#: a companion model (``companion``); 7, which added a fit on bands above a frequency
#: (``fit_bands_above``). A preset is written in the oldest version that holds it, so that
#: an older livesep still reads every other preset.
FORMAT_VERSIONS = (1, 2, 3, 4, 5, 6, 7)
#: The newest of them.
FORMAT_VERSION = FORMAT_VERSIONS[-1]
#: The only analysis window the engine uses.
WINDOW = "sqrt-hann"
#: The model families a preset may declare.
MODELS = ("nmf", "nhmm", "nae")
#: Most sources one preset may hold.
MAX_SOURCES = 16
#: Most numbers (elements of W, A and pi together) one preset may hold: 256 MiB as float32.
MAX_ELEMENTS = 64 * 2**20
#: Most frames (time lags) one convolutive source's templates may span.
MAX_FRAMES = 64
#: Most layers (unfolded updates) of an unfolded source.
MAX_LAYERS = 64
#: Largest weight of a source's noise floor column.
MAX_FLOOR_WEIGHT = 1e6
#: Most units per recurrent layer of an encoder, and most recurrent layers.
MAX_HIDDEN, MAX_ENCODER_LAYERS = 4096, 16
#: Sample rates a preset may declare, in Hz.
MIN_SR, MAX_SR = 1000, 384000
#: Largest ``meta`` JSON text, in characters.
MAX_META_CHARS = 4 * 2**20
#: Longest preset or source name, in characters.
MAX_NAME_CHARS = 100
#: How far a column of W (a whole template of a convolutive source), a row of A or pi may
#: sum from 1.
SUM_TOLERANCE = 1e-3

#: Each source's arrays, in the order they are written.
ARRAYS = ("W", "A", "pi")
#: The fields of ``meta``, all required.
PRESET_FIELDS = ("format", "version", "name", "description", "sr", "n_fft", "hop_length",
                 "window", "model", "created", "livesep_version", "sources")
#: The optional fields of ``meta``: a recurrent encoder's sizes (from version 3 on); the bins
#: the activations are fitted on, from the lowest (from version 5 on); a companion model's
#: share and ``meta`` (from version 6 on; its arrays' names start with ``companion.``); the
#: frequency above which the activations are fitted on bands (from version 7 on).
PRESET_OPTIONAL = ("encoder", "fit_bins", "companion", "fit_bands_above")
#: The prefix of a companion's array entries.
COMPANION_PREFIX = "companion."
#: The required fields of a source's entry in ``meta["sources"]``.
SOURCE_FIELDS = ("name", "n_states", "n_components")
#: The optional fields of a source's entry.
SOURCE_OPTIONAL = ("adaptive", "frames", "layers", "floor", "provenance")
#: The name of an array entry (without ``.npy``).
ARRAY_KEY = re.compile(r"source(0|[1-9][0-9]*)\.(W|A|pi)")


def running_version() -> str:
    """The version of this livesep, written into the presets it makes."""
    return __version__
