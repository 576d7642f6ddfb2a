"""Fuzzing the preset loader with hypothesis: random bytes, mutated valid presets, presets
whose zip members are replaced by random ``.npy`` files, and presets with edited meta fields
or array values. Only PresetError may come out, in time, and what loads is a valid preset
the engine runs (``helpers.fuzz.check_preset_bytes``).
"""

from __future__ import annotations

from hypothesis import given, settings

from helpers.fuzz import (
    CI,
    check_preset_bytes,
    mutated,
    preset_seeds,
    preset_with_edited_content,
    preset_with_replaced_member,
    random_bytes,
)


@settings(CI, max_examples=100)
@given(random_bytes([b"PK\x03\x04", b"\x93NUMPY\x01\x00"]))
def test_random_bytes_are_refused(data: bytes) -> None:
    check_preset_bytes(data)


@settings(CI, max_examples=300)
@given(mutated(preset_seeds()))
def test_mutated_presets_load_valid_or_are_refused(data: bytes) -> None:
    check_preset_bytes(data)


@settings(CI, max_examples=300)
@given(preset_with_replaced_member())
def test_presets_with_a_random_npy_member_load_valid_or_are_refused(data: bytes) -> None:
    check_preset_bytes(data)


@settings(CI, max_examples=300)
@given(preset_with_edited_content())
def test_presets_with_edited_meta_or_arrays_load_valid_or_are_refused(data: bytes) -> None:
    check_preset_bytes(data)
