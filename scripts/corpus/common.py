"""What every part of the corpus build shares: its error, the sample array type and the seeds.

Everything random in the corpus is drawn from a generator seeded by :func:`seed_for`, with
seeds named after the material they make, so two builds give byte-identical files.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

FArray = npt.NDArray[np.float32]

BASE_SEED = 20240917


class CorpusError(Exception):
    """Something the build cannot do; reported as one line without a traceback."""


def seed_for(*parts: object) -> int:
    """A stable seed for a named piece of material (Python's ``hash`` is salted per run).

    Parameters
    ----------
    *parts : object
        Names that identify the material, e.g. ``("instruments", "piano", "train")``.

    Returns
    -------
    int
        A 32-bit seed derived from :data:`BASE_SEED` and the names.
    """
    text = "/".join(str(part) for part in (BASE_SEED, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
