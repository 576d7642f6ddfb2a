"""The LV2 plugin ``livesep.lv2``: where the built bundle is and how it is installed.

The build (CMake, ``cpp/lv2/``) puts the bundle (the plugin, ``manifest.ttl`` and
``livesep.ttl``) into the package beside the engine module, ``livesep/data/livesep.lv2``.
:func:`install_plugin` copies it into an LV2 folder with the shipped presets in its
``presets/`` folder, where the plugin finds its default preset (``presets/voice-48k.npz``,
full band, at 44.1 kHz and above; ``presets/voice.npz`` below).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from livesep.errors import LivesepError
from livesep.presets.shipped import shipped_presets

__all__ = ["PLUGIN_URI", "BUNDLE_NAME", "PluginError", "bundle_dir", "default_destination",
           "install_plugin"]

#: The plugin's URI, as hosts name it (``jalv urn:livesep:separator``).
PLUGIN_URI = "urn:livesep:separator"
#: The bundle's folder name.
BUNDLE_NAME = "livesep.lv2"
_BUNDLE_FILES = ("manifest.ttl", "livesep.ttl", "livesep.so")


class PluginError(LivesepError):
    """The LV2 bundle is missing from this installation or cannot be installed."""


def bundle_dir() -> Path:
    """The bundle this livesep was built with.

    Raises
    ------
    PluginError
        If the build had no LV2 headers or zlib, so the plugin was not built.
    """
    spec = importlib.util.find_spec("livesep._core")
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    bundle = origin.parent / "data" / BUNDLE_NAME if origin else None
    if bundle is None or not all((bundle / name).is_file() for name in _BUNDLE_FILES):
        raise PluginError("this livesep was built without its LV2 plugin: install the LV2 "
                          "headers and zlib (Debian: lv2-dev zlib1g-dev), then reinstall "
                          "livesep")
    return bundle


def default_destination() -> Path:
    """Where the bundle goes by default: the first folder of ``LV2_PATH`` if set, else
    ``~/.lv2`` (the per-user LV2 folder every host searches)."""
    first = os.environ.get("LV2_PATH", "").split(os.pathsep)[0]
    return Path(first).expanduser() if first else Path.home() / ".lv2"


def install_plugin(dest: str | os.PathLike[str] | None = None) -> Path:
    """Copy the bundle and the shipped presets into an LV2 folder.

    Parameters
    ----------
    dest : str or path-like, optional
        The LV2 folder (created if needed); default :func:`default_destination`.

    Returns
    -------
    Path
        The installed bundle, ``dest/livesep.lv2``, replacing an older one.

    Raises
    ------
    PluginError
        If the plugin was not built, or the folder cannot be written.
    """
    source = bundle_dir()
    folder = Path(dest).expanduser() if dest is not None else default_destination()
    target = folder / BUNDLE_NAME
    try:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
        presets = target / "presets"
        presets.mkdir(exist_ok=True)
        for preset in shipped_presets():
            shutil.copy2(preset, presets / preset.name)
    except OSError as error:
        raise PluginError(f"cannot install the plugin into {folder}: "
                          f"{error.strerror or error}") from None
    return target
