"""Measuring livesep: separation quality beside the mixture (floor) and the ideal ratio mask
(ceiling), and the engine's speed.

:mod:`~livesep.evaluation.metrics` (BSS Eval, SI-SDR, STOI, PESQ, the ideal ratio mask),
:mod:`~livesep.evaluation.mixtures` (folders of mixtures with their references),
:mod:`~livesep.evaluation.evaluate` (a preset scored on them, what ``livesep eval`` runs),
:mod:`~livesep.evaluation.report` (tables, JSON, plots), :mod:`~livesep.evaluation.bench`
(the engine timed against its numpy reference, ``livesep bench``) and
:mod:`~livesep.evaluation.demo` (the bundled recording separated and scored,
``livesep demo``).
"""

from __future__ import annotations

from livesep.evaluation.evaluate import (
    METHODS,
    Evaluation,
    evaluate_preset,
    evaluate_signals,
)

__all__ = ["METHODS", "Evaluation", "evaluate_preset", "evaluate_signals"]
