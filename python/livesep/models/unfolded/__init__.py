"""Models trained on mixtures: deep unfolded NMF, the training mixtures it learns from, and
enrolment of a voice and a room into a trained voice preset.

:mod:`~livesep.models.unfolded.model` (the unfolded updates and their training by hand-written
gradients), :mod:`~livesep.models.unfolded.augment` (speech and noise made into training
mixtures), :mod:`~livesep.models.unfolded.enrol` (a personal preset from a voice preset).
"""

from __future__ import annotations

from livesep.models.unfolded.augment import MixtureFrames, generic_noise, mixture_frames
from livesep.models.unfolded.enrol import enrol
from livesep.models.unfolded.model import (
    UnfoldedModel,
    train_unfolded,
    unfolded_loss,
    unfolded_masks,
)

__all__ = ["MixtureFrames", "UnfoldedModel", "enrol", "generic_noise", "mixture_frames",
           "train_unfolded", "unfolded_loss", "unfolded_masks"]
