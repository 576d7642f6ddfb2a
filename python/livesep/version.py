"""The version of livesep: written into the presets it makes, read by the build."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
