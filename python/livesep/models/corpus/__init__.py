"""Training on corpora larger than one process: EM split into per-chunk statistics, a sum
and an M-step (:mod:`~livesep.models.corpus.fits`, :mod:`~livesep.models.corpus.em`), and
chunks of audio files streamed from disk (:mod:`~livesep.models.corpus.chunks`). One chunk in
memory is how :func:`livesep.models.nhmm.train_nhmm` trains; how the chunks are mapped (in
this process or on a Dask cluster) is the caller's ``map_sum``.
"""

from __future__ import annotations
