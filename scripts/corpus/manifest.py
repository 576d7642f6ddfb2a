"""The corpus's ``manifest.json``: the settings of the build and what each part holds.

Also the removal of a part about to be rebuilt, which only touches a folder whose manifest
shows that this build made it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .common import BASE_SEED
from .drumkits import DRUMKIT_ROOT, TEST_KITS, _kit_split, drum_kits
from .midi import FLUIDSYNTH_GAIN, SOUNDFONT
from .mixtures import MIXTURE_MAX_S
from .packages import _package_version
from .signals import (
    PEAK_LIMIT_DBFS,
    TARGET_RMS_DBFS,
    TRIM_CEILING_DB,
    TRIM_FLOOR_MARGIN_DB,
    TRIM_FRAME_S,
    TRIM_MARGIN_S,
    TRIM_MAX_GAP_S,
    TRIM_THRESHOLD_DB,
)
from .speech import CLIP_FOLDERS, CLIP_RMS_DBFS, GAP_RANGE_S, MAX_CLIPS, TEST_EVERY


def _settings(sr: int) -> dict[str, Any]:
    return {
        "sr": sr, "base_seed": BASE_SEED,
        "normalize": {"rms_dbfs": TARGET_RMS_DBFS, "peak_limit_dbfs": PEAK_LIMIT_DBFS},
        "speech": {"folders": list(CLIP_FOLDERS), "trim_threshold_db": TRIM_THRESHOLD_DB,
                   "trim_floor_margin_db": TRIM_FLOOR_MARGIN_DB,
                   "trim_ceiling_db": TRIM_CEILING_DB, "trim_max_gap_s": TRIM_MAX_GAP_S,
                   "trim_frame_s": TRIM_FRAME_S, "trim_margin_s": TRIM_MARGIN_S,
                   "clip_rms_dbfs": CLIP_RMS_DBFS,
                   "gap_s": list(GAP_RANGE_S), "test_every": TEST_EVERY,
                   "max_clips": MAX_CLIPS, "resampler": "livesep.resampling.resample"},
        "fluidsynth": {"command": "fluidsynth -ni -q -o audio.file.format=float -F OUT.wav "
                                  f"-r {sr} -g {FLUIDSYNTH_GAIN} FONT IN.mid",
                       "soundfont": str(SOUNDFONT)},
        "drums": {"root": str(DRUMKIT_ROOT), "test_kits": list(TEST_KITS)},
        "mixtures": {"max_s": MIXTURE_MAX_S, "snr": "power over the whole signals"},
    }


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return manifest if manifest.get("format") == "livesep-corpus" else {}


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    temporary = path.with_name(".manifest.json.part")
    temporary.write_text(text)
    os.replace(temporary, path)


def _forget(out_dir: Path, parts: Iterable[str]) -> None:
    """Remove parts about to be rebuilt whole: their folders and their manifest entries.

    So nothing stale survives (a mixture no longer made, a file at another rate), and a
    build that fails half-way does not leave a manifest describing files that are gone.
    Only done in a folder whose ``manifest.json`` shows that this script made it.
    """
    path = out_dir / "manifest.json"
    manifest = _read_manifest(path)
    if not manifest:
        return
    for part in parts:
        shutil.rmtree(out_dir / part, ignore_errors=True)
        manifest.pop(part, None)
    _write_manifest(path, manifest)


def _finish(out_dir: Path, sr: int, results: dict[str, Any], packages: Iterable[str]) -> Path:
    """Merge results into ``manifest.json`` (keeping entries of parts not rebuilt)."""
    path = out_dir / "manifest.json"
    manifest = _read_manifest(path)
    if manifest.get("settings", {}).get("sr") != sr:
        manifest = {}  # built at another rate: nothing in it describes the files now
    manifest["format"] = "livesep-corpus"
    manifest["version"] = 1
    manifest["settings"] = _settings(sr)
    versions = manifest.setdefault("packages", {})
    for package in sorted(set(packages)):
        versions[package] = _package_version(package)
    for part, entries in results.items():
        section = manifest.setdefault(part, {})
        section.update(entries)
        manifest[part] = dict(sorted(section.items()))
    if "drums" in results:
        train, test = _kit_split(drum_kits())
        manifest["drums"]["train_kits"], manifest["drums"]["test_kits"] = train, test
    _write_manifest(path, manifest)
    return path
