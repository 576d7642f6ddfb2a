"""The public face of ``import livesep``: every name it offers is documented with an Examples
section, and those examples run as written."""

from __future__ import annotations

import doctest

import pytest

import livesep

DOCUMENTED = sorted(name for name in livesep.__all__
                    if not name.startswith("__") and not name.endswith("Error"))


def test_the_face_is_small_and_complete() -> None:
    assert DOCUMENTED == ["EngineSettings", "LiveSeparator", "Separator", "create_separator",
                          "load_preset", "separate_file"]
    assert all(issubclass(getattr(livesep, name), livesep.LivesepError)
               for name in livesep.__all__ if name.endswith("Error"))


@pytest.mark.parametrize("name", DOCUMENTED)
def test_examples_run(name: str) -> None:
    obj = getattr(livesep, name)
    finder = doctest.DocTestFinder(recurse=False)
    tests = [test for test in finder.find(obj, f"livesep.{name}", globs={}) if test.examples]
    assert tests, f"livesep.{name} has no Examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
