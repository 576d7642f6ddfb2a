"""A minimal LV2 host in ctypes for the plugin's tests of what Debian's console hosts cannot
send: patch:Set messages on the control port, answered through the worker extension.

It offers urid:map and work:schedule (the worker runs between ``run`` calls, in this
thread: requests after a block, their responses before the next block, as hosts with a
worker thread deliver them at the latest), and no log feature, so the plugin's messages go
to stderr.
"""

from __future__ import annotations

import ctypes
import struct
from pathlib import Path

import numpy as np

__all__ = ["Descriptor", "Host"]

_Handle = ctypes.c_void_p
_MapFunction = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_char_p)
_ScheduleFunction = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32,
                                     ctypes.c_void_p)
_RespondFunction = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32,
                                    ctypes.c_void_p)


class Descriptor(ctypes.Structure):
    """LV2Descriptor (lv2/core/lv2.h)."""

    _fields_ = [
        ("URI", ctypes.c_char_p),
        ("instantiate", ctypes.CFUNCTYPE(_Handle, ctypes.c_void_p, ctypes.c_double,
                                         ctypes.c_char_p, ctypes.c_void_p)),
        ("connect_port", ctypes.CFUNCTYPE(None, _Handle, ctypes.c_uint32, ctypes.c_void_p)),
        ("activate", ctypes.CFUNCTYPE(None, _Handle)),
        ("run", ctypes.CFUNCTYPE(None, _Handle, ctypes.c_uint32)),
        ("deactivate", ctypes.CFUNCTYPE(None, _Handle)),
        ("cleanup", ctypes.CFUNCTYPE(None, _Handle)),
        ("extension_data", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)),
    ]


class _WorkerInterface(ctypes.Structure):
    _fields_ = [
        ("work", ctypes.CFUNCTYPE(ctypes.c_int, _Handle, _RespondFunction, ctypes.c_void_p,
                                  ctypes.c_uint32, ctypes.c_void_p)),
        ("work_response", ctypes.CFUNCTYPE(ctypes.c_int, _Handle, ctypes.c_uint32,
                                           ctypes.c_void_p)),
        ("end_run", ctypes.c_void_p),
    ]


_StoreFunction = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
                                  ctypes.c_size_t, ctypes.c_uint32, ctypes.c_uint32)
_RetrieveFunction = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
                                     ctypes.POINTER(ctypes.c_size_t),
                                     ctypes.POINTER(ctypes.c_uint32),
                                     ctypes.POINTER(ctypes.c_uint32))


class _StateInterface(ctypes.Structure):
    _fields_ = [
        ("save", ctypes.CFUNCTYPE(ctypes.c_int, _Handle, _StoreFunction, ctypes.c_void_p,
                                  ctypes.c_uint32, ctypes.c_void_p)),
        ("restore", ctypes.CFUNCTYPE(ctypes.c_int, _Handle, _RetrieveFunction, ctypes.c_void_p,
                                     ctypes.c_uint32, ctypes.c_void_p)),
    ]


class _Feature(ctypes.Structure):
    _fields_ = [("URI", ctypes.c_char_p), ("data", ctypes.c_void_p)]


class _Map(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("map", _MapFunction)]


class _Schedule(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("schedule_work", _ScheduleFunction)]


ATOM = "http://lv2plug.in/ns/ext/atom#"
PATCH = "http://lv2plug.in/ns/ext/patch#"


class Host:
    """One plugin instance at ``rate`` with its ports on numpy buffers of ``block`` frames."""

    def __init__(self, bundle: Path, rate: int, block: int) -> None:
        self.urids: dict[str, int] = {}
        self.requests: list[bytes] = []
        self.responses: list[bytes] = []
        self._map_function = _MapFunction(self._map_uri)
        self._schedule_function = _ScheduleFunction(self._schedule)
        self._respond_function = _RespondFunction(self._respond)
        self._map_struct = _Map(None, self._map_function)
        self._schedule = _Schedule(None, self._schedule_function)
        self._features = [_Feature(b"http://lv2plug.in/ns/ext/urid#map",
                                   ctypes.cast(ctypes.pointer(self._map_struct), ctypes.c_void_p)),
                          _Feature(b"http://lv2plug.in/ns/ext/worker#schedule",
                                   ctypes.cast(ctypes.pointer(self._schedule),
                                               ctypes.c_void_p))]
        self._feature_list = (ctypes.POINTER(_Feature) * 3)(
            *[ctypes.pointer(feature) for feature in self._features], None)
        self._library = ctypes.CDLL(str(bundle / "livesep.so"))
        self._library.lv2_descriptor.restype = ctypes.POINTER(Descriptor)
        self.descriptor = self._library.lv2_descriptor(0).contents
        self.handle = self.descriptor.instantiate(ctypes.byref(self.descriptor), float(rate),
                                                  f"{bundle}/".encode(), self._feature_list)
        assert self.handle, "the plugin did not instantiate"
        worker = self.descriptor.extension_data(b"http://lv2plug.in/ns/ext/worker#interface")
        assert worker, "the plugin has no worker interface"
        self.worker = ctypes.cast(worker, ctypes.POINTER(_WorkerInterface)).contents
        self.input = np.zeros(block, np.float32)
        self.outputs = np.zeros((3, block), np.float32)
        self.controls = np.array([100.0, 1.0, 1.0, 0.0], np.float32)  # strength, gains, latency
        self.control = np.zeros(8192, np.uint8)  # the atom ports' buffers, 64-bit aligned
        self.notify = np.zeros(8192, np.uint8)
        self.latency_mode = np.zeros(1, np.float32)  # 0 standard, 1 low, 2 ultra
        for index, array in [(0, self.input), *((1 + c, self.outputs[c]) for c in range(3)),
                             *((4 + c, self.controls[c:c + 1]) for c in range(4)),
                             (8, self.control), (9, self.notify), (10, self.latency_mode)]:
            self.descriptor.connect_port(self.handle, index,
                                         array.ctypes.data_as(ctypes.c_void_p))
        self.descriptor.activate(self.handle)
        self._pending: bytes | None = None

    @property
    def latency(self) -> int:
        return int(self.controls[3])

    def _map_uri(self, handle: int | None, uri: bytes) -> int:
        return self.urids.setdefault(uri.decode(), len(self.urids) + 1)

    def _schedule(self, handle: int | None, size: int, data: int) -> int:
        self.requests.append(ctypes.string_at(data, size))
        return 0

    def _respond(self, handle: int | None, size: int, data: int) -> int:
        self.responses.append(ctypes.string_at(data, size))
        return 0

    def set_preset(self, path: str) -> None:
        """Send patch:Set of the preset parameter with the next block."""
        uri = self._map_uri
        value = path.encode() + b"\0"
        urid_property = struct.pack("<IIIII4x", uri(0, f"{PATCH}property".encode()), 0, 4,
                                    uri(0, f"{ATOM}URID".encode()),
                                    uri(0, b"urn:livesep:separator#preset"))
        path_property = struct.pack("<IIII", uri(0, f"{PATCH}value".encode()), 0, len(value),
                                    uri(0, f"{ATOM}Path".encode())) + value
        path_property += b"\0" * (-len(path_property) % 8)
        body = struct.pack("<II", 0, uri(0, f"{PATCH}Set".encode())) + urid_property + path_property
        event = struct.pack("<qII", 0, len(body), uri(0, f"{ATOM}Object".encode())) + body
        self._pending = event

    def run(self, block: np.ndarray) -> np.ndarray:
        """One block through the plugin: (source 1, source 2, mix), a copy."""
        for response in self.responses:  # what the worker answered since the last block
            buffer = ctypes.create_string_buffer(response, len(response))
            self.worker.work_response(self.handle, len(response), buffer)
        self.responses.clear()
        events = self._pending or b""
        self._pending = None
        sequence = struct.pack("<IIII", 8 + len(events), self.urids.setdefault(
            f"{ATOM}Sequence", len(self.urids) + 1), 0, 0) + events
        self.control[:len(sequence)] = np.frombuffer(sequence, np.uint8)
        self.notify[:8] = np.frombuffer(struct.pack("<II", self.notify.size - 8, 0), np.uint8)
        self.input[:block.size] = block
        self.descriptor.run(self.handle, block.size)
        while self.requests:  # the worker's turn, after the block
            request = self.requests.pop(0)
            buffer = ctypes.create_string_buffer(request, len(request))
            self.worker.work(self.handle, self._respond_function, None, len(request), buffer)
        return self.outputs[:, :block.size].copy()

    def _state(self) -> _StateInterface:
        state = self.descriptor.extension_data(b"http://lv2plug.in/ns/ext/state#interface")
        assert state, "the plugin has no state interface"
        return ctypes.cast(state, ctypes.POINTER(_StateInterface)).contents

    def save(self) -> dict[str, tuple[bytes, str]]:
        """The plugin's state: {key URI: (value, type URI)}."""
        names = {urid: uri for uri, urid in self.urids.items()}
        saved: dict[str, tuple[bytes, str]] = {}

        def store(handle: int | None, key: int, value: int, size: int, type_: int,
                  flags: int) -> int:
            saved[names[key]] = (ctypes.string_at(value, size), names[type_])
            return 0

        callback = _StoreFunction(store)
        assert self._state().save(self.handle, callback, None, 0, None) == 0
        return saved

    def restore(self, state: dict[str, tuple[bytes, str]]) -> None:
        """Restores a state as :meth:`save` returned it (between blocks, as hosts do)."""
        names = {urid: uri for uri, urid in self.urids.items()}
        kept: list[ctypes.Array[ctypes.c_char]] = []

        def retrieve(handle: int | None, key: int, size: ctypes._Pointer, type_: ctypes._Pointer,
                     flags: ctypes._Pointer) -> int | None:
            if names.get(key) not in state:
                return None
            value, type_uri = state[names[key]]
            kept.append(ctypes.create_string_buffer(value, len(value)))
            size[0], type_[0], flags[0] = len(value), self._map_uri(None, type_uri.encode()), 0
            return ctypes.addressof(kept[-1])

        callback = _RetrieveFunction(retrieve)
        assert self._state().restore(self.handle, callback, None, 0, None) == 0

    def close(self) -> None:
        self.descriptor.cleanup(self.handle)
