"""Training the source models: NumPy implementations, run once per preset.

The fits:

- :mod:`livesep.models.nmf` — β-divergence NMF (IS / KL / Euclidean) with L1 and temporal
  smoothness penalties, and supervised activations with a fixed dictionary
  (:func:`~livesep.models.nmf.fit_activations`); :mod:`livesep.models.plca` — PLCA by EM.
- :mod:`livesep.models.nhmm` — the non-negative HMM (Mysore, Smaragdis & Raj 2010): one
  small dictionary per Markov state, dictionaries and transitions learned jointly by EM
  (:func:`~livesep.models.nhmm.train_nhmm`).
- :mod:`livesep.models.nmf2d` — NMF2D / NMFD (Schmidt & Mørup 2006): signatures convolutive
  in time and in log-frequency pitch shift, the paper's LS and KL multiplicative updates;
  :mod:`livesep.models.logfreq` — the log-frequency spectrogram it factorises;
  :mod:`livesep.models.nmfd` — convolutive dictionaries (n_lags, F, K) on the linear STFT
  for supervised and causal (online) separation.
- :mod:`livesep.models.nae` — non-negative autoencoders (Smaragdis & Venkataramani 2016):
  shallow and two-layer softplus networks trained by RProp on a KL cost, and supervised
  separation by fitting each fixed decoder's code to the mixture (``docs/nae.md``).
- :mod:`livesep.models.train` — training a preset from isolated examples of each source
  (what ``livesep train`` runs).

What they share:

- :mod:`livesep.models.betadiv` — the β-divergence and its multiplicative updates, run by
  NMF, the supervised activations and the N-HMM's initial dictionaries;
- :mod:`livesep.models.initialise` — starting points: NNDSVDa or random NMF factors, and the
  N-HMM's states, dictionaries and transitions from a k-means clustering of the frames;
- :mod:`livesep.models.hmm` — the count scaling and the forward-backward recursions that turn
  per-state likelihoods into state posteriors;
- ``_common`` — the array checks and iteration progress every fit uses.

The NMF family stays flat here because its modules share this machinery; the autoencoder,
which shares none of it, is a subpackage (``nae/``: its ``__init__`` is the public face, the
network arithmetic and the optimisers live beside it).

Each function takes a magnitude spectrogram ``V`` shaped (F bins, T frames), keyword-only
settings, and returns a small dataclass. The submodules are imported on demand (their
function names, like ``nmf``, would shadow them here).
"""

from __future__ import annotations

__all__ = ["betadiv", "hmm", "initialise", "logfreq", "nae", "nhmm", "nmf", "nmf2d", "nmfd",
           "plca"]
