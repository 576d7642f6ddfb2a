"""Loading refuses files with bad meta fields, bad array headers or bad values, with a message
naming the file and the problem; load_meta refuses the same header problems."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers.preset_files import (
    F,
    Mutation,
    change_array,
    delete_meta,
    npy,
    npy_claiming,
    put,
    rejected,
    set_meta,
    write_case,
)
from livesep.presets import load_meta


def _members(**members: bytes | None) -> Mutation:
    """Replace (or with None remove) raw zip members, named with '.npy' etc. as given."""
    def mutate(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, bytes | None]:
        return {name.replace("__", "."): value for name, value in members.items()}
    return mutate


def _scale_column(array: np.ndarray) -> np.ndarray:
    array[1, :, 2] *= 1.5
    return array


def _seventeen(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    meta["sources"] = [dict(meta["sources"][1], name=f"s{i}") for i in range(17)]


def _third_source(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    meta["sources"].append(dict(meta["sources"][1], name="drums"))


def _fewer_sources(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    meta["sources"] = meta["sources"][:1]


def _total_too_large(meta: dict[str, Any], arrays: dict[str, np.ndarray]
                     ) -> dict[str, bytes | None]:
    meta["sources"][0]["n_components"] = 600_000
    meta["sources"][1]["n_components"] = 1_100_000
    return {"meta.npy": npy(np.array(json.dumps(meta))),
            "source0.W.npy": npy_claiming((2, F, 600_000), payload=b"\0" * 64),
            "source1.W.npy": npy_claiming((1, F, 1_100_000), payload=b"\0" * 64)}


_REQUIRED = ["name", "description", "sr", "n_fft", "hop_length", "window", "model",
             "created", "livesep_version", "sources"]

# Cases that the header checks catch: load and load_meta both refuse them.
HEADER_CASES = [
    pytest.param(set_meta("format", "other-format"), ["format", "'other-format'"], id="format"),
    pytest.param(set_meta("version", 8), ["version 8", "reads versions 1, 2, 3, 4, 5, 6 and 7",
                                          "upgrade livesep"], id="version-newer"),
    pytest.param(set_meta("version", 0), ["version 0", "reads versions 1, 2, 3, 4, 5, 6 and 7"],
                 id="version-older"),
    pytest.param(set_meta("version", "1"), ["version", "'1'", "str"], id="version-type"),
    pytest.param(delete_meta("format"), ["missing field", "'format'"], id="missing-format"),
    pytest.param(delete_meta("version"), ["missing field", "'version'"], id="missing-version"),
    *[pytest.param(delete_meta(key), ["missing field", f"'{key}'"], id=f"missing-{key}")
      for key in _REQUIRED],
    pytest.param(set_meta("colour", "red"), ["unexpected field", "'colour'"], id="extra-field"),
    pytest.param(set_meta("sr", "16000"), ["sr", "'16000'", "str"], id="sr-str"),
    pytest.param(set_meta("sr", 16000.0), ["sr", "16000.0", "float"], id="sr-float"),
    pytest.param(set_meta("sr", True), ["sr", "True", "bool"], id="sr-bool"),
    pytest.param(set_meta("sr", None), ["sr", "None"], id="sr-null"),
    pytest.param(set_meta("sr", 999), ["sr", "999", "[1000, 384000]"], id="sr-low"),
    pytest.param(set_meta("sr", 384001), ["sr", "384001"], id="sr-high"),
    pytest.param(set_meta("n_fft", 66), ["n_fft", "66"], id="n_fft-not-multiple-of-4"),
    pytest.param(set_meta("n_fft", 8), ["n_fft", "8"], id="n_fft-small"),
    pytest.param(set_meta("n_fft", 2**20), ["n_fft", str(2**20)], id="n_fft-huge"),
    pytest.param(set_meta("n_fft", "64"), ["n_fft", "'64'"], id="n_fft-str"),
    pytest.param(set_meta("hop_length", 24), ["hop_length", "24", "divide"], id="hop-not-dividing"),
    pytest.param(set_meta("hop_length", 64), ["hop_length", "64"], id="hop-equals-n_fft"),
    pytest.param(set_meta("hop_length", 0), ["hop_length", "0"], id="hop-zero"),
    pytest.param(set_meta("window", "hann"), ["window", "'hann'"], id="window"),
    pytest.param(set_meta("model", "cnn"), ["model", "'cnn'"], id="model"),
    pytest.param(set_meta("model", "nmf"), ["sources[0]", "2 states", "'nmf'"], id="nmf-states"),
    pytest.param(set_meta("name", ""), ["name", "''"], id="name-empty"),
    pytest.param(set_meta("name", 5), ["name", "5", "int"], id="name-int"),
    pytest.param(set_meta("description", None), ["description", "None"], id="description-null"),
    pytest.param(set_meta("created", "yesterday"), ["created", "'yesterday'"], id="created"),
    pytest.param(set_meta("livesep_version", 1), ["livesep_version", "1"], id="version-int"),
    pytest.param(set_meta("sources", "voice"), ["sources", "'voice'", "list"], id="sources-str"),
    pytest.param(set_meta("sources", []), ["sources", "got 0"], id="no-sources"),
    pytest.param(_seventeen, ["sources", "got 17"], id="17-sources"),
    pytest.param(set_meta("sources.0", "voice"), ["sources[0]", "'voice'"], id="source-str"),
    pytest.param(delete_meta("sources.0.n_states"), ["sources[0]", "missing", "'n_states'"],
                 id="source-missing-field"),
    pytest.param(set_meta("sources.1.colour", 1), ["sources[1]", "unexpected", "'colour'"],
                 id="source-extra-field"),
    pytest.param(set_meta("sources.0.name", "a/b"), ["sources[0].name", "'a/b'"],
                 id="source-name-slash"),
    pytest.param(set_meta("sources.0.name", ""), ["sources[0].name", "''"], id="source-name-empty"),
    pytest.param(set_meta("sources.1.name", "Voice"), ["sources[1].name", "'Voice'", "duplicates",
                                                   "'voice'"], id="duplicate-names"),
    pytest.param(set_meta("sources.0.n_states", "2"), ["sources[0].n_states", "'2'"],
                 id="n_states-str"),
    pytest.param(set_meta("sources.0.n_states", 0), ["sources[0].n_states", "0"],
                 id="n_states-zero"),
    pytest.param(set_meta("sources.0.n_components", 2.5), ["sources[0].n_components", "2.5"],
                 id="n_components-float"),
    pytest.param(set_meta("sources.0.adaptive", "yes"), ["sources[0].adaptive", "'yes'"],
                 id="adaptive-str"),
    pytest.param(set_meta("sources.0.provenance", [1]), ["sources[0].provenance", "[1]"],
                 id="provenance-list"),
    pytest.param(set_meta("sources.0.n_states", 3), ["source0.W", "(2, 33, 3)", "(3, 33, 3)",
                                                 "n_states"], id="n_states-vs-W"),
    pytest.param(set_meta("sources.0.n_components", 4), ["source0.W", "(2, 33, 3)", "(2, 33, 4)",
                                                     "n_components"], id="n_components-vs-W"),
    pytest.param(set_meta("n_fft", 48), ["source0.W", "(2, 33, 3)", "(2, 25, 3)", "n_fft"],
                 id="W-bins-vs-n_fft"),
    pytest.param(_fewer_sources, ["source1.", "source 1", "lists 1 source"],
                 id="more-arrays-than-sources"),
    pytest.param(_third_source, ["missing array", "'source2.A'", "3 source"],
                 id="fewer-arrays-than-sources"),
    pytest.param(_members(meta__npy=None), ["missing entry 'meta'"], id="missing-meta"),
    pytest.param(_members(meta__npy=npy(np.array("{not json"))), ["meta", "not valid JSON"],
                 id="meta-bad-json"),
    pytest.param(_members(meta__npy=npy(np.array("[1, 2]"))), ["meta", "[1, 2]", "list"],
                 id="meta-json-list"),
    pytest.param(_members(meta__npy=npy(np.array('{"format": NaN}'))), ["meta", "NaN"],
                 id="meta-json-nan"),
    pytest.param(_members(meta__npy=npy(np.arange(3))), ["meta", "int64"], id="meta-int"),
    pytest.param(_members(meta__npy=npy(np.array(["{}"]))), ["meta", "(1,)"], id="meta-1d"),
    pytest.param(_members(meta__npy=npy(np.array({"format": "livesep-preset"}, dtype=object))),
                 ["meta", "pickled", "object"], id="meta-pickled"),
    pytest.param(_members(meta__npy=b"\x80\x04K\x01."), ["meta", "not a readable .npy"],
                 id="meta-raw-pickle"),
    pytest.param(_members(source0__W__npy=npy(np.array([{"W": 1}], dtype=object))),
                 ["source0.W", "pickled", "object"], id="W-pickled"),
    pytest.param(_members(source0__W__npy=npy(np.ones((2, F, 3), np.int32))),
                 ["source0.W", "int32"], id="W-int"),
    pytest.param(_members(source0__W__npy=npy(np.ones((2, F, 3), np.complex64))),
                 ["source0.W", "complex64"], id="W-complex"),
    pytest.param(_members(source0__A__npy=npy(np.eye(2, dtype=bool))),
                 ["source0.A", "bool"], id="A-bool"),
    pytest.param(_members(source1__pi__npy=npy(np.ones(1, np.uint8))),
                 ["source1.pi", "uint8"], id="pi-uint8"),
    pytest.param(_members(source0__pi__npy=npy(np.array([b"ab", b"cd"]))),
                 ["source0.pi", "S2"], id="pi-bytes"),
    pytest.param(change_array("source1.W", lambda w: w[0]), ["source1.W", f"({F}, 2)"],
                 id="W-2d"),
    pytest.param(change_array("source0.A", lambda a: np.full((2, 3), 1 / 3)),
                 ["source0.A", "(2, 3)", "(2, 2)"], id="A-shape"),
    pytest.param(change_array("source0.pi", lambda p: np.full(3, 1 / 3)),
                 ["source0.pi", "(3,)", "(2,)"], id="pi-shape"),
    pytest.param(_members(notes__npy=npy(np.zeros(1))), ["unexpected entry", "'notes.npy'"],
                 id="extra-array"),
    pytest.param(_members(readme__txt=b"hello"), ["unexpected entry", "'readme.txt'"],
                 id="extra-file"),
    pytest.param(_members(source16__W__npy=npy(np.zeros(1))), ["source16.W", "source 16"],
                 id="extra-source-array"),
    pytest.param(_members(source0__W__npy=npy_claiming((2, F, 2**27), payload=b"\0" * 64)),
                 ["source0.W", f"(2, {F}, {2**27})", "more than"], id="W-claims-huge"),
    pytest.param(_members(source0__A__npy=npy_claiming((2**40, 2**40), "<f8")),
                 ["source0.A", f"({2**40}, {2**40})", "more than"], id="A-claims-huge"),
    pytest.param(_total_too_large, ["source1.W", "so far", "more than"], id="total-too-large"),
]

# Cases only the values reveal: load refuses them, load_meta (headers only) does not.
VALUE_CASES = [
    pytest.param(change_array("source0.W", lambda w: put(w, (0, 5, 1), np.nan)),
                 ["source0.W", "non-finite", "nan", "(0, 5, 1)"], id="W-nan"),
    pytest.param(change_array("source0.A", lambda a: put(a, (1, 0), np.inf)),
                 ["source0.A", "non-finite", "inf", "(1, 0)"], id="A-inf"),
    pytest.param(change_array("source1.pi", lambda p: put(p, (0,), -np.inf)),
                 ["source1.pi", "-inf"], id="pi-minus-inf"),
    pytest.param(change_array("source0.W", lambda w: put(w, (0, 5, 1), -0.1)),
                 ["source0.W", "negative", "-0.1", "(0, 5, 1)"], id="W-negative"),
    pytest.param(change_array("source0.A", lambda a: np.array([[1.5, -0.5], [0.5, 0.5]], a.dtype)),
                 ["source0.A", "negative", "-0.5", "(0, 1)"], id="A-negative"),
    pytest.param(change_array("source0.pi", lambda p: np.array([1.25, -0.25], p.dtype)),
                 ["source0.pi", "negative", "-0.25", "(1,)"], id="pi-negative"),
    pytest.param(change_array("source0.W", _scale_column),
                 ["source0.W", "W[1, :, 2]", "sums to 1.5"], id="W-column-sum"),
    pytest.param(change_array("source0.W", lambda w: w * 0), ["source0.W", "sums to 0"],
                 id="W-zero"),
    pytest.param(change_array("source0.A", lambda a: np.array([[0.5, 0.5], [0.2, 0.2]], a.dtype)),
                 ["source0.A", "row 1", "sums to 0.4"], id="A-row-sum"),
    pytest.param(change_array("source0.pi", lambda p: np.array([0.3, 0.3], p.dtype)),
                 ["source0.pi", "sums to 0.6"], id="pi-sum"),
    pytest.param(change_array("source0.W", lambda w: put(w.astype(np.float64), (0, 0, 0), 1e300)),
                 ["source0.W", "non-finite", "inf"], id="W-float64-overflow"),
    pytest.param(_members(source1__pi__npy=npy(np.ones(1, np.float32)) + b"xx"),
                 ["source1.pi", "unexpected bytes"], id="trailing-bytes"),
    pytest.param(_members(source1__pi__npy=npy_claiming((1,), payload=b"\0\0")),
                 ["source1.pi", "corrupt or truncated"], id="short-data"),
]


@pytest.mark.parametrize("mutate, needles", HEADER_CASES)
def test_load_rejects_bad_header(tmp_path: Path, saved: Path, mutate: Mutation,
                                 needles: list[str]) -> None:
    path = write_case(tmp_path, saved, mutate)
    tracemalloc.start()
    try:
        start = time.perf_counter()
        message = rejected(path, *needles)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, message
    assert peak < 32 * 2**20, f"allocated {peak} bytes for {message}"
    assert rejected(path, loader=load_meta) == message


@pytest.mark.parametrize("mutate, needles", VALUE_CASES)
def test_load_rejects_bad_values(tmp_path: Path, saved: Path, mutate: Mutation,
                                 needles: list[str]) -> None:
    path = write_case(tmp_path, saved, mutate)
    rejected(path, *needles)
    assert load_meta(path).name == "two"  # the headers alone are fine
