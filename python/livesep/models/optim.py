"""First-order optimisers for full-batch training with hand-written gradients.

Both update a list of float64 arrays in place from a list of gradients of the same shapes.
They hold no randomness: a run is a deterministic function of its start and its gradients.

- :class:`Adam` (Kingma & Ba 2015): per-entry steps of about ``learning_rate``, scaled by
  running moments of the gradient; the bias-corrected form.
- :class:`Rprop` (Riedmiller & Braun 1993, the iRprop⁻ variant of Igel & Hüsken 2000): only
  the sign of each gradient entry is used; each entry's step grows by 1.2 while the sign
  holds and halves when it flips (and that entry then skips one step). The paper on
  non-negative autoencoders trained with RProp.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["Adam", "Rprop", "make_optimizer", "OPTIMIZERS"]

Array = npt.NDArray[np.float64]

#: Names accepted by :func:`make_optimizer`.
OPTIMIZERS = ("adam", "rprop")


class Adam:
    """Adam with bias correction.

    Parameters
    ----------
    params : sequence of np.ndarray
        The arrays to update (in place); their shapes fix the optimiser's state.
    learning_rate : float
        Step size (about the largest change of one entry per step).
    beta1, beta2, eps : float
        Moment decay rates and the denominator floor.
    """

    def __init__(self, params: Sequence[Array], *, learning_rate: float, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._m = [np.zeros_like(p) for p in params]
        self._v = [np.zeros_like(p) for p in params]
        self._t = 0

    def step(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        """Update every ``params[i]`` in place from ``grads[i]``."""
        self._t += 1
        correction1 = 1.0 - self.beta1 ** self._t
        correction2 = 1.0 - self.beta2 ** self._t
        for p, g, m, v in zip(params, grads, self._m, self._v):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            p -= (self.learning_rate / correction1) * m / (np.sqrt(v / correction2) + self.eps)


class Rprop:
    """iRprop⁻: sign-based steps with per-entry adaptive sizes.

    Parameters
    ----------
    params : sequence of np.ndarray
        The arrays to update (in place).
    learning_rate : float
        Initial step of every entry.
    increase, decrease : float
        Step factors when the gradient keeps / flips its sign.
    min_step, max_step : float
        Bounds of the steps, relative to ``learning_rate``.
    """

    def __init__(self, params: Sequence[Array], *, learning_rate: float, increase: float = 1.2,
                 decrease: float = 0.5, min_step: float = 1e-6, max_step: float = 50.0) -> None:
        self.increase, self.decrease = increase, decrease
        self.min_step = min_step * learning_rate
        self.max_step = max_step * learning_rate
        self._steps = [np.full_like(p, learning_rate) for p in params]
        self._previous = [np.zeros_like(p) for p in params]

    def step(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        """Update every ``params[i]`` in place from ``grads[i]``."""
        for p, g, size, previous in zip(params, grads, self._steps, self._previous):
            agreement = g * previous
            grow, shrink = agreement > 0, agreement < 0
            size[grow] = np.minimum(size[grow] * self.increase, self.max_step)
            size[shrink] = np.maximum(size[shrink] * self.decrease, self.min_step)
            direction = np.sign(g)
            direction[shrink] = 0.0
            p -= direction * size
            np.copyto(previous, g)
            previous[shrink] = 0.0


def make_optimizer(name: str, params: Sequence[Array], *, learning_rate: float
                   ) -> Adam | Rprop:
    """The optimiser called ``name`` (one of :data:`OPTIMIZERS`) over ``params``."""
    if name == "adam":
        return Adam(params, learning_rate=learning_rate)
    return Rprop(params, learning_rate=learning_rate)
