"""The ``livesep`` command line (:func:`main`): one module per command group, the shared
options in :mod:`~livesep.cli.options`. It maps the library's parameters to the flags the
user typed; nothing in the library imports it."""

from __future__ import annotations

from livesep.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
