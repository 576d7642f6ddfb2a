"""Training the source models: NumPy implementations, run once per preset.

- :mod:`livesep.models.nmf` — β-divergence NMF (IS / KL / Euclidean) with L1 and temporal
  smoothness penalties, supervised activations with a fixed dictionary
  (:func:`~livesep.models.nmf.fit_activations`) and PLCA by EM.
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

Each function takes a magnitude spectrogram ``V`` shaped (F bins, T frames), keyword-only
settings, and returns a small dataclass. The submodules are imported on demand (their
function names, like ``nmf``, would shadow them here).
"""

from __future__ import annotations

__all__ = ["logfreq", "nae", "nhmm", "nmf", "nmf2d", "nmfd"]
