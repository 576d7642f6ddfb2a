"""Separating signals and files with a preset, and blindly without one.

``online`` is the causal C++ engine block by block, exactly as live
(:mod:`~livesep.separation.online`); the offline references see the whole signal at once
(:mod:`~livesep.separation.offline`: batch and semi-supervised NMF;
:mod:`~livesep.separation.nfhmm`: the N-FHMM smoothed by forward-backward;
:mod:`~livesep.separation.low_delay`: the models fitted frame by frame in a low-delay mode).
Files become
stem files through :mod:`~livesep.separation.files`; :mod:`~livesep.separation.states`
splits a source into its N-HMM states; :mod:`~livesep.separation.blind` separates
instruments without training (NMF2D, imported on demand: it needs scipy);
:mod:`~livesep.separation.reference_engine` is the
engine's computation in numpy, the reference its speed is measured against.
"""

from __future__ import annotations

from livesep.separation.files import MODES, SeparationReport, separate_file, write_stems
from livesep.separation.nfhmm import separate_offline_nfhmm
from livesep.separation.offline import (
                                        separate_offline,
                                        separate_offline_nmf,
                                        separate_offline_recurrent,
                                        separate_offline_semi,
                                        separate_offline_unfolded,
)
from livesep.separation.online import separate_online
from livesep.separation.states import separate_states

__all__ = ["MODES", "SeparationReport", "separate_file", "separate_offline",
           "separate_offline_nfhmm", "separate_offline_nmf", "separate_offline_recurrent",
           "separate_offline_semi",
           "separate_offline_unfolded", "separate_online", "separate_states", "write_stems"]
