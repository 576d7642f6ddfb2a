"""Hydrogen drum kits: reading them, splitting them into train and test, playing their samples.

Both the drum grooves and the cymbal noise are mixed from these kits' one-shot samples.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livesep.audio import load

from .common import CorpusError, FArray

DRUMKIT_ROOT = Path("/usr/share/hydrogen/data/drumkits")
#: Drum kits kept for testing only: an acoustic multi-layer kit and a sampled breakbeat kit.
#: All Millo kits stay on the training side because they may share recordings.
TEST_KITS = ("The Black Pearl 1.0", "VariBreaks")

#: Instrument names → drum categories; the first match wins, so the order matters.
_DRUM_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("hh_pedal", r"(hi-?hat|\bhh|\bhat).*(pedal|\bpd\b)|pedal ?hh"),
    ("hh_open", r"(hi-?hat|\bhh|\bhat).*(open|\bop\b|semi)|open ?hh|\bohh\b"),
    ("hh_closed", r"(hi-?hat|\bhh|\bhat).*(clos|\bcl\b)|closed ?hh|\bchh\b"),
    ("kick", r"kick|bass ?drum|\bbd\b"),
    ("snare", r"snare(?!.*roll)"),
    ("tom_low", r"(floor|low|\blo\b).*tom|tom.*(floor|low|\blo\b)"),
    ("tom_high", r"(\bhi\b|high).*tom|tom.*(\bhi\b|high)"),
    ("tom_mid", r"\btom"),
    ("crash", r"crash|splash|china|cymbal"),
    ("ride", r"\bride"),
)


@dataclass(frozen=True)
class DrumLayer:
    """One sample of a drum instrument, used for velocities in ``[vmin, vmax]``."""

    path: Path
    vmin: float
    vmax: float
    gain: float


@dataclass(frozen=True)
class DrumVoice:
    """A drum instrument of a hydrogen kit."""

    kit: str
    name: str
    category: str
    volume: float
    layers: tuple[DrumLayer, ...]

    def layer(self, velocity: float) -> DrumLayer:
        """The layer hydrogen would play at this velocity (the nearest if none covers it)."""
        for layer in self.layers:
            if layer.vmin <= velocity <= layer.vmax:
                return layer
        return min(self.layers, key=lambda l: abs((l.vmin + l.vmax) / 2 - velocity))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str, default: str = "") -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return default


def _number(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def read_drumkit(kit_dir: Path) -> list[DrumVoice]:
    """The categorised instruments of a hydrogen kit (``drumkit.xml``, old and new formats).

    Parameters
    ----------
    kit_dir : Path
        The kit's folder.

    Returns
    -------
    list of DrumVoice
        Instruments whose name maps to a category of :data:`_DRUM_CATEGORIES` and whose
        sample files exist; the others (claps, cowbells, effects ...) are left out.
    """
    xml = kit_dir / "drumkit.xml"
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as error:
        raise CorpusError(f"{xml}: cannot read the drum kit ({error})") from None
    voices: list[DrumVoice] = []
    for element in root.iter():
        if _local(element.tag) != "instrument":
            continue
        name = _child_text(element, "name")
        category = next((cat for cat, pattern in _DRUM_CATEGORIES
                         if re.search(pattern, name, re.IGNORECASE)), None)
        if category is None:
            continue
        layers: list[DrumLayer] = []
        for sub in element.iter():
            if _local(sub.tag) == "layer":
                file = _child_text(sub, "filename")
                layers.append(DrumLayer(kit_dir / file, _number(_child_text(sub, "min"), 0.0),
                                        _number(_child_text(sub, "max"), 1.0),
                                        _number(_child_text(sub, "gain"), 1.0)))
        direct = _child_text(element, "filename")
        if not layers and direct:  # the old format names one file per instrument
            layers.append(DrumLayer(kit_dir / direct, 0.0, 1.0, 1.0))
        layers = [layer for layer in layers if layer.path.is_file()]
        if layers:
            voices.append(DrumVoice(kit_dir.name, name, category,
                                    _number(_child_text(element, "volume"), 1.0),
                                    tuple(sorted(layers, key=lambda l: (l.vmin, l.vmax)))))
    return voices


def drum_kits() -> dict[str, dict[str, list[DrumVoice]]]:
    """The usable kits: those with a kick, a snare and a hi-hat or ride, by category.

    Returns
    -------
    dict
        ``{kit name: {category: [voices]}}``, sorted by kit name.
    """
    kits: dict[str, dict[str, list[DrumVoice]]] = {}
    for kit_dir in sorted(p for p in DRUMKIT_ROOT.iterdir() if (p / "drumkit.xml").is_file()):
        by_category: dict[str, list[DrumVoice]] = {}
        for voice in read_drumkit(kit_dir):
            by_category.setdefault(voice.category, []).append(voice)
        if {"kick", "snare"} <= by_category.keys() and (
                {"hh_closed", "ride"} & by_category.keys()):
            kits[kit_dir.name] = by_category
    return kits


def _kit_split(kits: dict[str, Any]) -> tuple[list[str], list[str]]:
    missing = [kit for kit in TEST_KITS if kit not in kits]
    if missing:
        raise CorpusError(f"test drum kits not found or incomplete in {DRUMKIT_ROOT}: "
                          f"{', '.join(missing)}")
    return [kit for kit in kits if kit not in TEST_KITS], list(TEST_KITS)


_SAMPLES: dict[tuple[Path, int], FArray] = {}


def _sample(path: Path, sr: int) -> FArray:
    key = (path, sr)
    if key not in _SAMPLES:
        _SAMPLES[key] = load(path, sr=sr)[0]
    return _SAMPLES[key]


@dataclass(frozen=True)
class Hit:
    """A drum hit: time in seconds, the voice, its velocity in (0, 1]."""

    time: float
    voice: DrumVoice
    velocity: float


def _render_hits(hits: Sequence[Hit], n: int, sr: int, *, choke: bool) -> np.ndarray:
    """Mix one-shots into a buffer; with ``choke`` a hi-hat stops the one ringing before it."""
    out = np.zeros(n + 10 * sr)
    hats = sorted((h for h in hits if h.voice.category.startswith("hh")), key=lambda h: h.time)
    next_hat = {id(h): (hats[i + 1].time if i + 1 < len(hats) else math.inf)
                for i, h in enumerate(hats)}
    fade = max(1, round(0.015 * sr))
    for hit in sorted(hits, key=lambda h: (h.time, h.voice.name)):
        start = round(hit.time * sr)
        if start >= n:
            continue
        layer = hit.voice.layer(hit.velocity)
        y = _sample(layer.path, sr).astype(np.float64) * (hit.velocity * layer.gain
                                                          * hit.voice.volume)
        if choke and id(hit) in next_hat and math.isfinite(next_hat[id(hit)]):
            keep = max(fade, round(next_hat[id(hit)] * sr) - start + fade)
            if keep < len(y):  # a closed hat cuts the open one short, as on a real kit
                y = y[:keep].copy()
                y[-fade:] *= np.linspace(1.0, 0.0, fade)
        y = y[:len(out) - start]
        out[start:start + len(y)] += y
    return out[:n]
