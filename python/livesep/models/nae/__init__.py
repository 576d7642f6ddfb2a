"""Non-negative autoencoders (Smaragdis & Venkataramani 2016) and supervised separation.

A source's magnitude spectrogram ``X`` (F bins × T frames) is coded and rebuilt by

    encoder   H = g(E_L ⋯ g(E_1 X))          (K × T, non-negative)
    decoder   X̂ = g(W_L ⋯ g(W_1 H))          (F × T, non-negative)

with ``g`` the softplus ``log(1 + eᶻ)`` and ``L`` the depth: ``L = 1`` is the shallow NAE of
the paper's eq. 3 (``H = g(W‡ X)``, ``X̂ = g(W H)``), ``L = 2`` the deeper model of eq. 7
(a two-layer decoder ``X̂ = g(W_2 g(W_1 H))``, every hidden layer ``K`` wide, as in the
paper's experiment). Weights may be negative; ``g`` keeps ``H`` and ``X̂`` non-negative.
There are no biases, as in the paper. Training minimises the generalised KL divergence of
Lee & Seung plus a sparsity penalty on the code (paper eqs. 4–5)

    L = Σ_{f,t} (X log(X / X̂) - X + X̂) + l1 · Σ H,

full batch (every frame in every step), like the paper. Separation (paper section 3) keeps
each source's decoder fixed and fits its latent input ``H_s = g(U_s)`` so that
``Σ_s decoder_s(H_s) ≈ X_mix`` under the same cost with ``l1 · Σ_s Σ H_s`` (eq. 9); soft
masks from the per-source reconstructions filter the complex mixture STFT (eq. 10).

Why numpy with hand-written gradients and Adam (not PyTorch): the models are one or two
softplus layers each way on a few thousand frames of 257 bins — a handful of matrix products
per step, which numpy does as fast as a CPU framework would. The backward pass is twenty
lines (a product and a sigmoid per layer) and is checked against finite differences in the
tests. PyTorch would add a multi-gigabyte optional dependency, a second install path for CI
and a second source of non-determinism (its own thread pools and kernels) for no gain in
speed or capability at this size. The optimiser is the paper's: RProp (the iRprop⁻ variant,
:mod:`livesep.models.optim`), full batch. Adam is available (``optimizer="adam"``) but
reached a clearly higher cost in the same number of steps on speech (``docs/nae.md``):
sign-based steps suit a cost whose gradient scale varies by orders of magnitude across
weights and frames. Everything is float64 and seeded: equal seeds give equal models.

Scale. Softplus is not scale-equivariant (``g(a z) ≠ a g(z)``): the decoder is about linear
(ReLU-like) for large outputs and exponential for small ones, so the level of the data
matters. Every spectrogram is therefore divided by its mean before it reaches a network:
training data has mean 1, and a mixture of ``S`` sources is scaled to mean ``S`` (each
source near its training level). Outputs are scaled back to the units of the input.

A caveat on ``l1``: with unconstrained weights, ``g(W H) = g((W / c)(c H))``, so the
penalty can always be lowered by shrinking ``H`` and growing ``W``; gradient descent with a
bounded step only moves part of the way, which is where the paper's sparsifying effect comes
from. Keep ``l1`` small relative to the divergence (our default is 0).

Layout: this module is the public face; the code lives beside it, one concern a module —
:mod:`livesep.models.nae.model` (:class:`NaeModel`, :func:`train_nae`, :func:`fit_latent`,
:func:`separate_nae`), :mod:`livesep.models.nae.recurrent` (the recurrent encoder of model
``"nae"`` presets, trained on mixtures) and ``_net`` (the layers, their backward pass, the
costs and their gradients); its optimisers (RProp and Adam) are
:mod:`livesep.models.optim`, shared with :mod:`livesep.models.unfolded`. Import from here.
"""

from __future__ import annotations

from livesep.models.nae._net import kl_divergence, softplus
from livesep.models.nae.model import LatentFit, NaeModel, fit_latent, separate_nae, train_nae
from livesep.models.nae.recurrent import (
    encoder_activations,
    encoder_features,
    recurrent_estimates,
)

__all__ = [
    "NaeModel",
    "LatentFit",
    "kl_divergence",
    "softplus",
    "train_nae",
    "fit_latent",
    "separate_nae",
    "encoder_activations",
    "encoder_features",
    "recurrent_estimates",
]
