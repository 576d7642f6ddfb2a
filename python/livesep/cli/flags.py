"""The library's parameters in the flags the user typed.

Library errors speak of parameters, as a Python caller writes them: ``n_iter must be >= 0``,
``(pass overwrite=True to replace)``, ``needs mode='offline'``. The command line shows the
same message with the flag of each parameter: ``--iterations must be >= 0``, ``(pass
--overwrite to replace)``, ``needs --mode offline``.
"""

from __future__ import annotations

import re

__all__ = ["FLAGS", "in_flags"]

#: Library parameter -> command-line flag.
FLAGS = {
    "adaptive_quality": "--fixed-quality",
    "bands_above": "--bands-above",
    "beam": "--beam",
    "block_size": "--blocksize",
    "chunk_seconds": "--chunk-seconds",
    "blocksize": "--blocksize",
    "cost": "--cost",
    "input_channel": "--input-channel",
    "input_device": "--input-device",
    "latency": "--latency",
    "methods": "--methods",
    "mode": "--mode",
    "model": "--model",
    "n_components": "--components",
    "n_fft": "--n-fft",
    "n_frames": "--frames",
    "n_iter": "--iterations",
    "n_lags": "--time-lags",
    "n_shifts": "--pitch-shifts",
    "n_sources": "--sources",
    "n_starts": "--starts",
    "n_states": "--states",
    "hop_length": "--hop",
    "out_dir": "--out-dir",
    "output": "--output",
    "output_device": "--output-device",
    "overwrite": "--overwrite",
    "per_state": "--per-state",
    "record_dir": "--record",
    "samplerate": "--samplerate",
    "scheduler": "--scheduler",
    "scratch": "--scratch",
    "seconds": "--seconds",
    "seed": "--seed",
    "smoothing": "--smoothing",
    "sr": "--sr",
    "state_gains": "--state-gain",
    "workers": "--workers",
}

# name=value as a caller writes it: overwrite=True, mode='offline', n_states=1.
_ASSIGNMENT = re.compile(r"(?<![\w/.-])([a-z][a-z0-9_]*)=(True|'[^']*'|-?[0-9][0-9.]*)")
# A parameter as the subject of a rule ("beam must be ..."), at the start or after "; ".
_SUBJECT = re.compile(r"(^|; )([a-z][a-z0-9_]*)(?= must )")
# Names with an underscore never occur in prose: they are parameters wherever they stand.
_IDENTIFIER = re.compile(r"(?<![\w/.-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w/.-])")


def in_flags(message: str) -> str:
    """``message`` with every parameter it names given as its flag."""

    def assignment(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if name not in FLAGS:
            return match.group(0)
        return FLAGS[name] if value == "True" else f"{FLAGS[name]} {value.strip(chr(39))}"

    def subject(match: re.Match[str]) -> str:
        return match.group(1) + FLAGS.get(match.group(2), match.group(2))

    def identifier(match: re.Match[str]) -> str:
        return FLAGS.get(match.group(1), match.group(1))

    text = _ASSIGNMENT.sub(assignment, message)
    text = _SUBJECT.sub(subject, text)
    return _IDENTIFIER.sub(identifier, text)
