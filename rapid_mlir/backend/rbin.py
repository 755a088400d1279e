"""The `.rbin` binary container: a whole `Program` in one checksummed file.

Layout (all integers little-endian):

    offset 0   magic b"RBIN"
           4   u16 format version (FORMAT_VERSION)
           6   u16 reserved, 0
           8   u32 header length H
          12   header: H bytes of UTF-8 JSON (see below)
      12 + H   payload: P bytes, the code sections and data segments
  12 + H + P   32-byte SHA-256 of every byte before it

Header: {"machine": {...every Machine field...}, "machine_fingerprint": "...",
"payload_length": P, "symbols": [{name, kind, dtype, shape, address}],
"data": [{name, dtype, shape, address, offset, length}],
"code": [{core, stream, offset, length, count, origins?}],
"host_ops": [{layer, function, inputs: [{name, dtype, shape, address}], outputs: [...]}]};
offsets are relative to the start of the payload. Code sections hold `encoding.encode`
of each instruction in order; `host_ops` is the host-op manifest (entry N is what
`host N` runs; `function` is the MLIR text of the op's function). Version 2 added
`host_ops` and the `host` instruction.

`read_rbin` checks everything again (sizes, checksum, header types, section bounds,
every instruction's encoding and `check_stream`), and raises `RbinError` with a message
that says what is wrong, never an unrelated exception.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import struct

from rapid_mlir.backend.assembler import canonical_stream_order, check_program
from rapid_mlir.backend.encoding import EncodingError, decode, encode_stream
from rapid_mlir.backend.isa import DType
from rapid_mlir.backend.program import DataSegment, HostOp, HostTensor, Program, TensorSymbol
from rapid_mlir.machine import Machine, MachineError

MAGIC = b"RBIN"
FORMAT_VERSION = 2
PREFIX = struct.Struct("<4sHHI")
CHECKSUM_BYTES = 32


class RbinError(ValueError):
    """A file that is not a valid rapid binary, or one built for another machine."""


_DTYPES = {t.name.lower(): t for t in DType}
_TYPE_NAMES = {int: "an integer", str: "a string", list: "a list", dict: "an object"}


def write_rbin(program: Program) -> bytes:
    """The `.rbin` bytes of a program (checked with `assembler.check_program` first)."""
    check_program(program)
    canonical = Program(program.machine, dict(program.streams), program.symbols, program.data,
                        program.host_ops)
    canonical_stream_order(canonical)
    payload = bytearray()
    code = []
    for (core, stream), instrs in canonical.streams.items():
        blob = encode_stream(instrs)
        entry = {"core": core, "stream": stream, "offset": len(payload),
                 "length": len(blob), "count": len(instrs)}
        origins = _origin_runs(instrs)
        if origins:
            entry["origins"] = origins
        code.append(entry)
        payload += blob
    data = []
    for seg in program.data:
        payload += bytes(-len(payload) % 8)  # keep data 8-byte aligned in the file's payload
        data.append({"name": seg.name, "dtype": seg.dtype.name.lower(), "shape": list(seg.shape),
                     "address": seg.address, "offset": len(payload), "length": len(seg.data)})
        payload += seg.data
    header = {
        "machine": json.loads(program.machine.to_json()),
        "machine_fingerprint": program.machine.fingerprint(),
        "payload_length": len(payload),
        "symbols": [{"name": s.name, "kind": s.kind, "dtype": s.dtype.name.lower(),
                     "shape": list(s.shape), "address": s.address} for s in program.symbols],
        "data": data,
        "code": code,
        "host_ops": [{"layer": h.layer, "function": h.function,
                      "inputs": [_host_tensor_json(t) for t in h.inputs],
                      "outputs": [_host_tensor_json(t) for t in h.outputs]} for h in program.host_ops],
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    body = PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(head)) + head + bytes(payload)
    return body + hashlib.sha256(body).digest()


def _host_tensor_json(t: HostTensor) -> dict:
    return {"name": t.name, "dtype": t.dtype.name.lower(), "shape": list(t.shape), "address": t.address}


def _origin_runs(instrs) -> list[list]:
    """[first pc, count, layer] for each run of instructions compiled for one layer."""
    runs: list[list] = []
    for pc, instr in enumerate(instrs):
        if instr.origin is None:
            continue
        if runs and runs[-1][2] == instr.origin and runs[-1][0] + runs[-1][1] == pc:
            runs[-1][1] += 1
        else:
            runs.append([pc, 1, instr.origin])
    return runs


def _apply_origins(entry: dict, instrs: list, where: str) -> list:
    """The instructions with the provenance an optional 'origins' table gives them."""
    runs = entry.get("origins")
    if runs is None:
        return instrs
    if not isinstance(runs, list):
        raise RbinError(f"{where}: field 'origins' must be a list")
    out = list(instrs)
    for run in runs:
        ok = (isinstance(run, list) and len(run) == 3 and all(isinstance(v, int) and not isinstance(v, bool)
              for v in run[:2]) and isinstance(run[2], str))
        if not ok or run[0] < 0 or run[1] < 1 or run[0] + run[1] > len(out):
            raise RbinError(f"{where}: origins entry {run!r} is not [first pc, count, layer] within the stream")
        for pc in range(run[0], run[0] + run[1]):
            out[pc] = dataclasses.replace(out[pc], origin=run[2])
    return out


# Reading ----------------------------------------------------------------------------


def _get(obj: dict, key: str, types, where: str):
    """`obj[key]`, which must have one of `types` (bool is never an int here)."""
    if key not in obj:
        raise RbinError(f"{where}: field '{key}' is missing")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, types):
        raise RbinError(f"{where}: field '{key}' must be {_TYPE_NAMES[types]}, got {value!r}")
    return value


def _list(header: dict, key: str) -> list:
    items = _get(header, key, list, "header")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise RbinError(f"header '{key}' entry {i} must be an object, got {item!r}")
    return items


def _nonneg(obj: dict, key: str, where: str) -> int:
    value = _get(obj, key, int, where)
    if value < 0:
        raise RbinError(f"{where}: field '{key}' must be >= 0, got {value}")
    return value


def _dtype(obj: dict, where: str) -> DType:
    name = _get(obj, "dtype", str, where)
    if name not in _DTYPES:
        raise RbinError(f"{where}: dtype '{name}' is not f16 or f32")
    return _DTYPES[name]


def _shape(obj: dict, where: str) -> tuple[int, ...]:
    shape = _get(obj, "shape", list, where)
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
        raise RbinError(f"{where}: shape {shape} must hold integers >= 1")
    return tuple(shape)


def _check_prefix(data: bytes) -> int:
    """The header length, after checking magic, version and the file size."""
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise RbinError("not a rapid binary (it does not start with RBIN)")
    if len(data) < PREFIX.size:
        raise RbinError(f"truncated file: expected at least {PREFIX.size} bytes, found {len(data)}")
    _, version, reserved, head_len = PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise RbinError(f"unsupported rapid binary format version {version} (this tool reads "
                        f"version {FORMAT_VERSION})")
    if reserved != 0:
        raise RbinError(f"corrupted rapid binary: reserved field is {reserved}, not 0")
    need = PREFIX.size + head_len + CHECKSUM_BYTES
    if len(data) < need:
        raise RbinError(f"truncated file: expected at least {need} bytes (a {head_len}-byte "
                        f"header), found {len(data)}")
    return head_len


def _parse_header(data: bytes, head_len: int) -> dict | str:
    """The header object, or the reason it cannot be read."""
    try:
        header = json.loads(data[PREFIX.size:PREFIX.size + head_len].decode("utf-8"))
    except UnicodeDecodeError as e:
        return f"the header is not UTF-8 ({e.reason} at byte {e.start})"
    except json.JSONDecodeError as e:
        return f"the header is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
    if not isinstance(header, dict):
        return f"the header must be a JSON object, not {type(header).__name__}"
    return header


def _check_size_and_checksum(data: bytes, head_len: int, header: dict | str) -> None:
    if isinstance(header, dict) and isinstance(header.get("payload_length"), int):
        expected = PREFIX.size + head_len + header["payload_length"] + CHECKSUM_BYTES
        if len(data) < expected:
            raise RbinError(f"truncated file: expected {expected} bytes, found {len(data)}")
        if len(data) > expected:
            raise RbinError(f"corrupted rapid binary: expected {expected} bytes, found "
                            f"{len(data)} (trailing data)")
    body, digest = data[:-CHECKSUM_BYTES], data[-CHECKSUM_BYTES:]
    if hashlib.sha256(body).digest() != digest:
        raise RbinError("corrupted rapid binary: the SHA-256 checksum does not match its contents")


def _machine(header: dict, expect: Machine | None) -> Machine:
    table = _get(header, "machine", dict, "header")
    recorded = _get(header, "machine_fingerprint", str, "header")
    try:
        machine = Machine.from_dict(table, "the binary's machine")
    except MachineError as e:
        raise RbinError(f"header field 'machine': {e}") from None
    if machine.fingerprint() != recorded:
        raise RbinError(f"header 'machine_fingerprint' {recorded} does not match its machine "
                        f"fields (fingerprint {machine.fingerprint()})")
    if expect is not None and expect.fingerprint() != recorded:
        raise RbinError(f"built for machine '{machine.name}' (fingerprint {recorded}) but asked "
                        f"to run on '{expect.name}' ({expect.fingerprint()})")
    return machine


def _sections(header: dict, payload_len: int) -> tuple[list[dict], list[dict]]:
    """The code and data entries, with their payload ranges checked."""
    code, data = _list(header, "code"), _list(header, "data")
    ranges = []
    for kind, entries in (("code", code), ("data", data)):
        for i, e in enumerate(entries):
            where = f"header '{kind}' entry {i}"
            offset, length = _nonneg(e, "offset", where), _nonneg(e, "length", where)
            if offset + length > payload_len:
                raise RbinError(f"{kind} section {i} [{offset}, {offset + length}) lies outside "
                                f"the {payload_len}-byte payload")
            ranges.append((offset, offset + length, f"{kind} section {i}"))
    widest = None  # the non-empty section reaching furthest so far
    for lo, hi, name in sorted(r for r in ranges if r[1] > r[0]):
        if widest is not None and lo < widest[1]:
            raise RbinError(f"{name} [{lo}, {hi}) overlaps {widest[2]} [{widest[0]}, {widest[1]})")
        if widest is None or hi > widest[1]:
            widest = (lo, hi, name)
    return code, data


def _streams(code: list[dict], payload: bytes, machine: Machine) -> dict:
    streams: dict = {}
    for i, e in enumerate(code):
        where = f"header 'code' entry {i}"
        core, stream = _nonneg(e, "core", where), _get(e, "stream", str, where)
        count = _nonneg(e, "count", where)
        if (core, stream) in streams:
            raise RbinError(f"code for core {core} stream {stream} appears twice")
        start, end = e["offset"], e["offset"] + e["length"]
        blob = payload[start:end]
        instrs, pos = [], 0
        try:
            while pos < len(blob):
                instr, pos = decode(blob, pos)
                instrs.append(instr)
        except EncodingError as err:
            raise RbinError(f"core {core} stream {stream}: {err}") from None
        if len(instrs) != count:
            raise RbinError(f"core {core} stream {stream}: the header says {count} instructions "
                            f"but the section holds {len(instrs)}")
        streams[(core, stream)] = _apply_origins(e, instrs, where)
    return streams


def _host_ops(header: dict) -> list[HostOp]:
    """The host-op manifest, every field checked (the functions are checked with the rest
    of the program)."""
    out = []
    for i, h in enumerate(_list(header, "host_ops")):
        where = f"header 'host_ops' entry {i}"
        tensors = {}
        for kind in ("inputs", "outputs"):
            items = _get(h, kind, list, where)
            tensors[kind] = []
            for j, t in enumerate(items):
                at = f"{where} {kind} {j}"
                if not isinstance(t, dict):
                    raise RbinError(f"{at} must be an object, got {t!r}")
                tensors[kind].append(HostTensor(_get(t, "name", str, at), _dtype(t, at), _shape(t, at),
                                                _nonneg(t, "address", at)))
        out.append(HostOp(_get(h, "layer", str, where), _get(h, "function", str, where),
                          tuple(tensors["inputs"]), tuple(tensors["outputs"])))
    return out


def read_rbin(data: bytes, expect_machine: Machine | None = None) -> Program:
    """The program in `.rbin` bytes, checked as the assembler checks programs.

    With `expect_machine`, a binary built for a machine with another fingerprint is
    refused. Every problem raises RbinError."""
    data = bytes(data)
    head_len = _check_prefix(data)
    header = _parse_header(data, head_len)
    _check_size_and_checksum(data, head_len, header)
    if isinstance(header, str):
        raise RbinError(f"corrupted rapid binary: {header}")
    payload_len = _nonneg(header, "payload_length", "header")
    machine = _machine(header, expect_machine)
    start = PREFIX.size + head_len
    payload = data[start:start + payload_len]
    code, data_entries = _sections(header, payload_len)
    symbols = []
    for i, s in enumerate(_list(header, "symbols")):
        where = f"header 'symbols' entry {i}"
        kind = _get(s, "kind", str, where)
        if kind not in ("input", "output"):
            raise RbinError(f"{where}: kind '{kind}' is not input or output")
        symbols.append(TensorSymbol(_get(s, "name", str, where), kind, _dtype(s, where),
                                    _shape(s, where), _nonneg(s, "address", where)))
    segments = []
    for i, d in enumerate(data_entries):
        where = f"header 'data' entry {i}"
        seg = DataSegment(_get(d, "name", str, where), _dtype(d, where), _shape(d, where),
                          _nonneg(d, "address", where), payload[d["offset"]:d["offset"] + d["length"]])
        want = math.prod(seg.shape) * seg.dtype.itemsize
        if seg.nbytes != want:
            raise RbinError(f"data '{seg.name}' {seg.dtype.name.lower()} {list(seg.shape)} needs "
                            f"{want} bytes but its section has {seg.nbytes}")
        segments.append(seg)
    program = Program(machine, _streams(code, payload, machine), symbols, segments, _host_ops(header))
    canonical_stream_order(program)
    try:
        check_program(program)
    except ValueError as e:
        raise RbinError(f"invalid program: {e}") from None
    return program


def read_rbin_file(path, expect_machine: Machine | None = None) -> Program:
    """`read_rbin` of a file; the message of an RbinError starts with the file's path."""
    with open(path, "rb") as f:
        blob = f.read()
    try:
        return read_rbin(blob, expect_machine)
    except RbinError as e:
        raise RbinError(f"{path}: {e}") from None


def write_rbin_file(path, program: Program) -> None:
    """Writes `write_rbin(program)` atomically (a temporary file, then a rename)."""
    blob = write_rbin(program)
    tmp = f"{os.fspath(path)}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
