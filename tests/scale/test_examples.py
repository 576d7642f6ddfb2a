"""The Examples sections of the cluster machinery run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["livesep.scale.batch", "livesep.scale.cluster", "livesep.models.corpus.em",
           "livesep.models.corpus.fits", "livesep.models.corpus.nmf_em",
           "livesep.models.corpus.chunks", "livesep.models.corpus.source"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
