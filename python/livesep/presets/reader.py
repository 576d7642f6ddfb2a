"""Reading preset files: the zip container, the ``.npy`` headers, ``meta``, and the arrays.

Every header is checked before any array data is read, so a file claiming a huge array
cannot make :func:`load` allocate; every failure is a :class:`~livesep.errors.PresetError`
naming the file, the field and the value.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from livesep.checks import show, type_name
from livesep.errors import ParameterError, PresetError
from livesep.presets.checks import (
    Invalid,
    as_float32,
    check_companion_entry,
    check_fit_entries,
    check_model_arrays,
    check_settings,
    check_source_entry,
    check_source_list,
)
from livesep.presets.encoder import ENCODER_KEY, Encoder, check_encoder_entry
from livesep.presets.format import (
    ARRAY_KEY,
    ARRAYS,
    COMPANION_PREFIX,
    FORMAT_NAME,
    FORMAT_VERSION,
    FORMAT_VERSIONS,
    MAX_ELEMENTS,
    MAX_ENCODER_LAYERS,
    MAX_META_CHARS,
    MAX_SOURCES,
    PRESET_FIELDS,
    PRESET_OPTIONAL,
    running_version,
)
from livesep.presets.source import SourceModel
from livesep.presets.types import Preset

__all__ = ["Member", "check_path", "fail", "load", "read_container", "reason"]


def reason(error: BaseException) -> str:
    """A short description of a caught exception for an error message."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = " ".join(str(error).split())
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True)
class Member:
    """A ``.npy`` member of the archive whose header has been read and checked."""

    key: str
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


def fail(file: Path, message: str) -> NoReturn:
    raise PresetError(f"{file}: {message}")


def check_path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a str or path-like, got {show(path)}")
    file = Path(path)
    if not file.exists():
        fail(file, "no such file")
    if file.is_dir():
        fail(file, "is a folder, not a preset file")
    return file


def read_header(file: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> Member:
    """Read and check one member's ``.npy`` header; no array data is read."""
    try:
        with archive.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                fail(file, f"{key}: unsupported .npy format version {version}")
    except PresetError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure of a corrupt member is ours
        fail(file, f"{key}: not a readable .npy array, the file is corrupt or truncated "
                   f"({reason(error)})")
    if dtype.hasobject:
        fail(file, f"{key}: holds pickled Python objects (dtype {dtype}); livesep never "
                   f"unpickles preset data")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        fail(file, f"{key}: invalid shape {shape} in its .npy header")
    return Member(key=key, info=info, shape=tuple(shape), dtype=dtype)


def read_data(file: Path, archive: zipfile.ZipFile, member: Member) -> np.ndarray:
    """Read a member whose header was checked; the archive's CRC is verified too."""
    try:
        with archive.open(member.info) as stream:
            array = np.lib.format.read_array(stream, allow_pickle=False)
            trailing = stream.read(1)  # reaching the end also checks the CRC
    except Exception as error:  # noqa: BLE001 - any failure of a corrupt member is ours
        fail(file, f"{member.key}: cannot read its data, the file is corrupt or truncated "
                   f"({reason(error)})")
    if trailing:
        fail(file, f"{member.key}: unexpected bytes after the array data")
    if array.shape != member.shape or array.dtype != member.dtype:  # pragma: no cover
        fail(file, f"{member.key}: changed while being read")
    return array


def meta_text(file: Path, array: np.ndarray) -> str:
    """The text of the 0-d unicode ``meta`` array, refusing invalid code points."""
    codes = np.frombuffer(array.astype(array.dtype.newbyteorder("<")).tobytes(), "<u4")
    bad = (codes > 0x10FFFF) | ((codes >= 0xD800) & (codes <= 0xDFFF))
    if bad.any():
        fail(file, f"meta holds an invalid character (code point "
                   f"{int(codes[np.argmax(bad)]):#x}); the file is corrupt")
    try:
        return str(array.item())
    except Exception as error:  # noqa: BLE001  # pragma: no cover - checked above
        fail(file, f"meta: cannot decode its text ({reason(error)})")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def parse_meta(file: Path, text: str) -> dict[str, Any]:
    """Decode and check the ``meta`` JSON; returns it with optional fields filled in (a
    companion's ``meta`` checked the same way)."""
    try:
        meta = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        fail(file, f"meta: not valid JSON ({error})")
    return check_meta(file, meta)


def check_meta(file: Path, meta: object, *, where: str = "", newest: int = FORMAT_VERSION
               ) -> dict[str, Any]:
    """Check a decoded ``meta`` object (``where`` names a companion's in messages, whose
    version may be at most ``newest``, its file's)."""
    if not isinstance(meta, dict):
        fail(file, f"{where}meta must be a JSON object, got {show(meta)} ({type_name(meta)})")
    if "format" not in meta:
        fail(file, f"{where}meta: missing field 'format'; not a livesep preset")
    if meta["format"] != FORMAT_NAME:
        fail(file, f"{where}format is {show(meta['format'])}, expected {FORMAT_NAME!r}; "
                   f"not a livesep preset")
    if "version" not in meta:
        fail(file, f"{where}meta: missing field 'version'")
    version = meta["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        fail(file, f"{where}version must be an integer, got {show(version)} "
                   f"({type_name(version)})")
    if version not in FORMAT_VERSIONS:
        hint = "; a newer livesep wrote it, upgrade livesep" if version > FORMAT_VERSION else ""
        fail(file, f"{where}version: the file is {FORMAT_NAME} version {version}, but this "
                   f"livesep ({running_version()}) reads versions "
                   f"{', '.join(map(str, FORMAT_VERSIONS[:-1]))} and {FORMAT_VERSION} "
                   f"only{hint}")
    if version > newest:
        fail(file, f"{where}version is {version}, newer than its file's ({newest})")
    missing = [key for key in PRESET_FIELDS if key not in meta]
    if missing:
        fail(file, f"{where}meta: missing field(s) {', '.join(map(repr, missing))}")
    extra = sorted(set(meta) - set(PRESET_FIELDS) - set(PRESET_OPTIONAL))
    if extra:
        fail(file, f"{where}meta: unexpected field(s) {', '.join(map(repr, extra))}")
    try:
        check_settings(**{key: meta[key] for key in PRESET_FIELDS
                          if key not in ("format", "version", "sources")})
        sources = meta["sources"]
        if not isinstance(sources, list):
            raise Invalid(f"sources must be a list, got {show(sources)} "
                          f"({type_name(sources)})")
        if not 1 <= len(sources) <= MAX_SOURCES:
            raise Invalid(f"sources: a preset holds 1 to {MAX_SOURCES} sources, "
                          f"got {len(sources)}")
        meta["encoder"] = check_encoder_entry(meta.get("encoder"), version=version,
                                              model=meta["model"])
        meta.update(check_fit_entries(meta, version=version))
        companion = check_companion_entry(meta.get("companion"), version=version,
                                          nested=bool(where))
        checked = [check_source_entry(f"sources[{index}]", entry, version=version)
                   for index, entry in enumerate(sources)]
        check_source_list([s["name"] for s in checked], [s["n_states"] for s in checked],
                          [s["layers"] for s in checked], model=meta["model"],
                          label="sources[{}]")
    except Invalid as error:
        fail(file, f"{where}{error}")
    meta["sources"] = checked
    meta["companion"] = None if companion is None else {
        "share": companion[0],
        "preset": check_meta(file, companion[1], where="companion.", newest=version)}
    return meta


def check_member(file: Path, member: Member, *, ndim: int, expected: tuple[int, ...],
                 meaning: str) -> int:
    """Check an array header against what meta declares; returns its element count."""
    key, shape, dtype = member.key, member.shape, member.dtype
    if dtype.kind != "f" or dtype.itemsize not in (2, 4, 8) or dtype.fields is not None:
        fail(file, f"{key}: must hold floating-point numbers (float32), got dtype {dtype}")
    if len(shape) != ndim:
        fail(file, f"{key}: must have {ndim} dimension(s) {meaning}, got shape {shape}")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        fail(file, f"{key}: shape {shape} declares {count} numbers, more than the "
                   f"{MAX_ELEMENTS} a preset may hold")
    if shape != expected:
        fail(file, f"{key}: shape {shape} does not match {meaning} = {expected} "
                   f"declared by meta")
    return count


def read_container(path: object, *, with_arrays: bool
                   ) -> tuple[Path, dict[str, Any], dict[str, np.ndarray]]:
    """Open a preset file, check its entries, meta and headers, and maybe read its arrays
    (a companion's under their ``companion.`` names)."""
    file = check_path(path)
    try:
        archive = zipfile.ZipFile(file)
    except Exception as error:  # noqa: BLE001 - any failure to open is a bad file
        fail(file, f"not a preset file: not a readable .npz (zip) archive, or truncated "
                   f"({reason(error)})")
    with archive:
        try:
            infos = archive.infolist()
        except Exception as error:  # noqa: BLE001  # pragma: no cover
            fail(file, f"corrupt zip directory ({reason(error)})")
        # meta, the sources' and an encoder's arrays (2, 4 per layer, 3 per source), twice.
        if len(infos) > 1 + 2 * (len(ARRAYS) * MAX_SOURCES + 2 + 4 * MAX_ENCODER_LAYERS
                                 + 3 * MAX_SOURCES):
            fail(file, f"holds {len(infos)} entries, more than a preset of {MAX_SOURCES} "
                       f"sources can have")
        levels: dict[str, dict[str, zipfile.ZipInfo]] = {"": {}, COMPANION_PREFIX: {}}
        for info in infos:
            name = info.filename
            key = name[:-4] if name.endswith(".npy") else name
            prefix = COMPANION_PREFIX if key.startswith(COMPANION_PREFIX) else ""
            own = key[len(prefix):]
            if not name.endswith(".npy") or not ((own == "meta" and not prefix)
                                                 or ARRAY_KEY.fullmatch(own)
                                                 or ENCODER_KEY.fullmatch(own)):
                fail(file, f"unexpected entry {show(name)}; a preset holds only 'meta', "
                           f"'source<i>.W', 'source<i>.A', 'source<i>.pi', an encoder's "
                           f"'encoder.*' arrays and a companion's 'companion.*' arrays")
            if own in levels[prefix]:
                fail(file, f"entry {show(name)} appears twice")
            levels[prefix][own] = info
        if "meta" not in levels[""]:
            fail(file, "missing entry 'meta' (the JSON header); not a livesep preset")
        header = read_header(file, archive, levels[""].pop("meta"), "meta")
        if header.dtype.kind != "U" or header.shape != ():
            fail(file, f"meta must be a 0-d unicode array holding JSON text, got dtype "
                       f"{header.dtype} and shape {header.shape}")
        if header.dtype.itemsize // 4 > MAX_META_CHARS:
            fail(file, f"meta declares {header.dtype.itemsize // 4} characters, more than "
                       f"the {MAX_META_CHARS} a preset may hold")
        meta = parse_meta(file, meta_text(file, read_data(file, archive, header)))
        companion = meta["companion"]
        if companion is None and levels[COMPANION_PREFIX]:
            fail(file, f"{COMPANION_PREFIX}{min(levels[COMPANION_PREFIX])}: a companion's "
                       f"array, but meta declares no companion")
        headers, total = _headers(file, archive, levels[""], meta, "", 0)
        if companion is not None:
            headers.update(_headers(file, archive, levels[COMPANION_PREFIX],
                                    companion["preset"], COMPANION_PREFIX, total)[0])
        arrays: dict[str, np.ndarray] = {}
        if with_arrays:
            for name, member in headers.items():
                arrays[name] = read_data(file, archive, member)
    return file, meta, arrays


def _headers(file: Path, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo],
             meta: dict[str, Any], prefix: str, total: int) -> tuple[dict[str, Member], int]:
    """The checked headers of one preset's arrays (``members`` by their names without
    ``prefix``) against its ``meta``, and the numbers counted so far (from ``total``)."""
    sources = meta["sources"]
    n_bins = meta["n_fft"] // 2 + 1
    encoder_shapes = Encoder.expected_shapes(
        n_hidden=meta["encoder"]["hidden"], n_layers=meta["encoder"]["layers"],
        n_bins=n_bins, n_components=[s["n_components"] for s in sources],
        noise_aware=meta["encoder"]["noise_aware"]) if meta["encoder"] else {}
    for key in sorted(k for k in members if ENCODER_KEY.fullmatch(k)):
        if key not in encoder_shapes:
            fail(file, f"{prefix}{key}: an encoder array that meta's encoder "
                       f"({show(meta['encoder'])}) and sources do not declare")
    missing_encoder = sorted(set(encoder_shapes) - set(members))
    if missing_encoder:
        fail(file, f"missing array {prefix + missing_encoder[0]!r} (meta declares an encoder "
                   f"{show(meta['encoder'])})")
    expected = {f"source{i}.{key}" for i in range(len(sources)) for key in ARRAYS}
    for key in sorted(set(members) - expected - set(encoder_shapes)):
        index = int(ARRAY_KEY.fullmatch(key)[1])  # type: ignore[index]
        fail(file, f"{prefix}{key}: the file holds arrays for source {index}, but meta lists "
                   f"{len(sources)} source(s)")
    missing = sorted(expected - set(members))
    if missing:
        fail(file, f"missing array {prefix + missing[0]!r} (meta lists {len(sources)} "
                   f"source(s))")
    headers: dict[str, Member] = {}
    for key, shape in encoder_shapes.items():
        name = prefix + key
        headers[name] = read_header(file, archive, members[key], name)
        total += check_member(file, headers[name], ndim=len(shape), expected=shape,
                              meaning="the shape meta's encoder and sources declare")
    for index, source in enumerate(sources):
        q, k, frames = source["n_states"], source["n_components"], source["frames"]
        # A convolutive source's W holds one block per lag instead of one per state, an
        # unfolded one's one per layer and one for the estimate.
        blocks, layout = ((source["layers"] + 1, "layers + 1") if source["layers"]
                          else (frames, "frames") if frames > 1 else (q, "n_states"))
        declared = (f"({layout}, n_fft // 2 + 1, n_components) of sources[{index}]",
                    f"(n_states, n_states) of sources[{index}]",
                    f"(n_states,) of sources[{index}]")
        for key, ndim, shape, meaning in zip(ARRAYS, (3, 2, 1), ((blocks, n_bins, k),
                                                                 (q, q), (q,)), declared):
            name = f"{prefix}source{index}.{key}"
            headers[name] = read_header(file, archive, members[f"source{index}.{key}"], name)
            total += check_member(file, headers[name], ndim=ndim, expected=shape,
                                  meaning=meaning)
            if total > MAX_ELEMENTS:
                fail(file, f"{name}: the arrays declare {total} numbers so far, more "
                           f"than the {MAX_ELEMENTS} a preset may hold")
    return headers, total


def load(path: str | os.PathLike[str]) -> Preset:
    """Read and fully check a preset file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`livesep.presets.save` (format ``livesep-preset``, one of
        :data:`~livesep.presets.format.FORMAT_VERSIONS`).

    Returns
    -------
    Preset
        Arrays as read-only float32; W ``(Q, F, K)``, A ``(Q, Q)``, pi ``(Q,)`` per source
        (W ``(frames, F, K)`` for a convolutive source and ``(layers + 1, F, K)`` for an
        unfolded one, which have one state).

    Raises
    ------
    PresetError
        Naming the file, the field and the value, for anything the format
        (:mod:`livesep.presets`) does not allow: a missing, truncated or non-zip file,
        pickled objects, bad JSON, another format or version, missing, extra or mistyped
        fields or entries, a field newer than the file's version, non-finite or negative
        values, sums other than 1, values out of range, shapes inconsistent with each
        other or with meta, oversized arrays, duplicate source names, a companion that
        does not fit.
    """
    file, meta, arrays = read_container(path, with_arrays=True)
    return _preset(file, meta, arrays, "")


def _preset(file: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str
            ) -> Preset:
    """The preset ``meta`` declares, from its arrays (named with ``prefix``)."""
    encoder = None
    if meta["encoder"]:
        try:
            encoder = Encoder.from_arrays(
                {key[len(prefix):]: as_float32(key, value) for key, value in arrays.items()
                 if key.startswith(prefix + "encoder.")},
                n_layers=meta["encoder"]["layers"], n_sources=len(meta["sources"]),
                noise_aware=meta["encoder"]["noise_aware"])
        except (Invalid, ParameterError) as error:
            fail(file, f"{prefix}{error}")
    sources = []
    for index, entry in enumerate(meta["sources"]):
        name = f"{prefix}source{index}."
        try:
            W, A, pi = (as_float32(name + key, arrays[name + key]) for key in ARRAYS)
            check_model_arrays(W, A, pi, prefix=name, frames=entry["frames"],
                               layers=entry["layers"])
        except Invalid as error:
            fail(file, str(error))
        try:
            sources.append(SourceModel(entry["name"], W=W, A=A, pi=pi,
                                       adaptive=entry["adaptive"], frames=entry["frames"],
                                       layers=entry["layers"], floor=entry["floor"],
                                       provenance=entry["provenance"]))
        except ParameterError as error:  # pragma: no cover - checked above
            fail(file, f"{prefix}sources[{index}]: {error}")
    companion = meta.get("companion")
    try:
        return Preset(meta["name"], description=meta["description"], sr=meta["sr"],
                      n_fft=meta["n_fft"], hop_length=meta["hop_length"],
                      window=meta["window"], model=meta["model"], sources=tuple(sources),
                      encoder=encoder, fit_bins=meta["fit_bins"],
                      fit_bands_above=meta["fit_bands_above"],
                      companion=None if companion is None else _preset(
                          file, companion["preset"], arrays, COMPANION_PREFIX),
                      companion_share=0.0 if companion is None else companion["share"],
                      created=meta["created"], livesep_version=meta["livesep_version"])
    except ParameterError as error:
        fail(file, f"{prefix}{error}")
