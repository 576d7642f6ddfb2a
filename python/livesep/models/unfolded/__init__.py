"""Models trained on mixtures: deep unfolded NMF and the training mixtures it learns from.

:mod:`~livesep.models.unfolded.model` (the unfolded updates and their training by hand-written
gradients), :mod:`~livesep.models.unfolded.augment` (speech and noise made into training
mixtures), :mod:`~livesep.models.unfolded.fullband` (a model of the lower band extended to
the full band).
"""

from __future__ import annotations

from livesep.models.unfolded.augment import MixtureFrames, generic_noise, mixture_frames
from livesep.models.unfolded.fullband import extend_estimates, extend_layers
from livesep.models.unfolded.model import (
    UnfoldedModel,
    train_unfolded,
    unfolded_loss,
    unfolded_masks,
)

__all__ = ["MixtureFrames", "UnfoldedModel", "extend_estimates", "extend_layers",
           "generic_noise", "mixture_frames", "train_unfolded", "unfolded_loss",
           "unfolded_masks"]
