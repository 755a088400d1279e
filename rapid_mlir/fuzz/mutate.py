"""Mutation fuzzing of every file the command-line tools read.

Seeds come from the repository (the bundled network, the FileCheck inputs, the
assembly examples, binaries assembled and compiled from them, the machine presets
written out as TOML, input `.npz` files); seeded mutators damage them (byte flips,
truncation, lines and tokens inserted, deleted, duplicated or swapped, numbers replaced
by extreme values, `.rbin` header fields changed with the checksum fixed up or left
broken, `.npz` arrays renamed, reshaped or retyped) and a harness feeds each mutant to
the tool's `main(argv)` in-process. Every run is classified:

- ok: exit status 0;
- error: a non-zero exit with exactly one `TOOL: error: ...` message on stderr;
- bug: anything else (a traceback, an `internal error`, an exception escaping `main`,
  an output or temporary file left behind by a failed run, a run over the time limit).

    python -m rapid_mlir.fuzz.mutate --seconds 600 --out build/fuzz-bugs

runs a campaign over all targets and saves each bug's input (and a note of how to
replay it) under `--out`. Every case is reproducible from (target, seed, index).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import random
import re
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TIME_LIMIT = 10.0
"""Seconds a single run may take before it counts as a hang."""

EXTREMES = ("0", "-1", "1", "2147483648", "-2147483649", "4294967296", "18446744073709551616",
            "1e308", "-1e308", "1e-308", "nan", "inf", "-inf", "0.5", "-0", "65536", "999999999999")
EXTREME_VALUES = (0, -1, 1, 2**31, -(2**31) - 1, 2**32, 2**64, 10**30, 1e308, -1e308, math.nan,
                  math.inf, 0.5, -0.0, 65536, True, False, None, "", "x" * 300, "f64", [], {})

# Text mutators ----------------------------------------------------------------------------

_NUMBER = re.compile(rb"-?\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b|0x[0-9a-fA-F]+")
_TOKEN = re.compile(rb"[A-Za-z_.%@#!^$][\w.$\-]*|\d+|\S")


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(buf))
        buf[i] = buf[i] ^ (1 << rng.randrange(8)) if rng.random() < 0.7 else rng.randrange(256)
    return bytes(buf)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    junk = rng.choice([b"\x00", b"\xff\xfe", b"{", b"}", b"(", b"[", b"\"", b"\n", b"%", b";",
                       "\u00e9\u2603".encode(), bytes(rng.randrange(256) for _ in range(8))])
    i = rng.randrange(len(data) + 1)
    return data[:i] + junk + data[i:]


def delete_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randint(1, 16):]


def delete_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    del lines[rng.randrange(len(lines))]
    return b"".join(lines)


def duplicate_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    line = rng.choice(lines)
    lines.insert(rng.randrange(len(lines) + 1), line if line.endswith(b"\n") else line + b"\n")
    return b"".join(lines)


def swap_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines)


def delete_block(data: bytes, rng: random.Random) -> bytes:
    """Removes a run of lines (a section, a directive and what follows it, a region)."""
    lines = _lines(data)
    i = rng.randrange(len(lines))
    del lines[i:i + rng.randint(2, 12)]
    return b"".join(lines)


def duplicate_block(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    block = lines[i:i + rng.randint(2, 12)]
    j = rng.randrange(len(lines) + 1)
    return b"".join(lines[:j] + block + lines[j:])


def mutate_token(data: bytes, rng: random.Random) -> bytes:
    tokens = list(_TOKEN.finditer(data))
    if not tokens:
        return insert_bytes(data, rng)
    t = rng.choice(tokens)
    op = rng.randrange(3)
    if op == 0:
        replacement = b""
    elif op == 1:
        replacement = t.group() + b" " + t.group()
    else:
        replacement = rng.choice(tokens).group()
    return data[:t.start()] + replacement + data[t.end():]


def extreme_number(data: bytes, rng: random.Random) -> bytes:
    numbers = list(_NUMBER.finditer(data))
    if not numbers:
        return mutate_token(data, rng)
    n = rng.choice(numbers)
    return data[:n.start()] + rng.choice(EXTREMES).encode() + data[n.end():]


TEXT_MUTATORS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    flip_bytes, truncate, insert_bytes, delete_bytes, delete_line, duplicate_line, swap_lines,
    delete_block, duplicate_block, mutate_token, mutate_token, extreme_number, extreme_number,
    extreme_number)


# IR-aware text mutators: edits that usually keep a .mlir file parseable, so that the
# mutant reaches the verifiers and the passes rather than stopping in the parser --------

_INT_LIST = re.compile(rb"\[(-?\d+(?:, -?\d+)*)\]")
_TENSOR = re.compile(rb"tensor<((?:\d+x)*)(f16|f32|f64|bf16|i1|i8|i32|i64)>")
_SSA = re.compile(rb"%[\w.$\-]+")
_NN_OP = re.compile(rb"\bnn\.([a-z_0-9]+)")
_KEYWORDS = (b"constant", b"reflect", b"edge", b"sum", b"mean", b"max", b"min", b"forward", b"reverse",
             b"bidirectional", b"none", b"tanh", b"keepdims", b"ceil_mode", b"trans_a", b"trans_b")
_SMALL = (0, 1, 2, 3, -1, 7, 64, 1000)


def mutate_int_list(data: bytes, rng: random.Random) -> bytes:
    """An attribute list (`strides [1, 1]`, `perm [0, 2, 1]`): one element changed, or
    one added or removed."""
    lists = list(_INT_LIST.finditer(data))
    if not lists:
        return mutate_token(data, rng)
    m = rng.choice(lists)
    items = m.group(1).split(b", ")
    how = rng.randrange(4)
    i = rng.randrange(len(items))
    if how == 0 and len(items) > 1:
        del items[i]
    elif how == 1:
        items.insert(i, str(rng.choice(_SMALL)).encode())
    else:
        items[i] = str(rng.choice(_SMALL + (int(items[i]) + 1, int(items[i]) - 1))).encode()
    return data[:m.start()] + b"[" + b", ".join(items) + b"]" + data[m.end():]


def mutate_tensor_type(data: bytes, rng: random.Random) -> bytes:
    """A tensor type: one dimension changed, added or removed, or another element type."""
    types = list(_TENSOR.finditer(data))
    if not types:
        return mutate_int_list(data, rng)
    m = rng.choice(types)
    dims = [d for d in m.group(1).split(b"x") if d]
    elem = m.group(2)
    how = rng.randrange(4)
    if how == 0:
        elem = rng.choice((b"f16", b"f32", b"f64", b"bf16", b"i1", b"i32", b"i64"))
    elif how == 1 and dims:
        del dims[rng.randrange(len(dims))]
    elif how == 2:
        dims.insert(rng.randrange(len(dims) + 1), str(rng.choice((1, 2, 3))).encode())
    elif dims:
        i = rng.randrange(len(dims))
        dims[i] = str(rng.choice((0, 1, 2, int(dims[i]) + 1, max(int(dims[i]) - 1, 0), 2 * int(dims[i])))).encode()
    return data[:m.start()] + b"tensor<" + b"".join(d + b"x" for d in dims) + elem + b">" + data[m.end():]


def swap_operands(data: bytes, rng: random.Random) -> bytes:
    """An SSA name replaced by another one of the file (a type mismatch, a use before
    its definition, a value of another function)."""
    names = list(_SSA.finditer(data))
    if len(names) < 2:
        return mutate_token(data, rng)
    m = rng.choice(names)
    return data[:m.start()] + rng.choice(names).group() + data[m.end():]


def swap_op_or_keyword(data: bytes, rng: random.Random) -> bytes:
    """An `nn` op name replaced by another one of the file, or a keyword by another."""
    ops = list(_NN_OP.finditer(data))
    if ops and rng.random() < 0.5:
        m = rng.choice(ops)
        return data[:m.start()] + rng.choice(ops).group() + data[m.end():]
    words = [m for k in _KEYWORDS for m in re.finditer(rb"\b" + k + rb"\b", data)]
    if not words:
        return mutate_int_list(data, rng)
    m = rng.choice(words)
    return data[:m.start()] + rng.choice(_KEYWORDS) + data[m.end():]


IR_MUTATORS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    mutate_int_list, mutate_int_list, mutate_tensor_type, mutate_tensor_type, swap_operands,
    swap_op_or_keyword)


def mutate_mlir(data: bytes, rng: random.Random) -> bytes:
    """Half the time an IR-aware edit (one or two), else `mutate_text`."""
    if rng.random() < 0.5:
        return mutate_text(data, rng)
    for _ in range(rng.choice((1, 1, 2))):
        data = rng.choice(IR_MUTATORS)(data, rng)
    return data


def mutate_text(data: bytes, rng: random.Random) -> bytes:
    """One to three text mutations."""
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        data = rng.choice(TEXT_MUTATORS)(data, rng)
    return data


# Structured (JSON-value) mutators ---------------------------------------------------------


def _paths(value, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def mutate_value(value, rng: random.Random):
    """A copy of a JSON-like value with one node replaced, removed, duplicated or added."""
    value = json.loads(json.dumps(value))
    paths = _paths(value)
    path = rng.choice(paths[1:] or paths)
    if not path:
        return rng.choice(EXTREME_VALUES)
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    op = rng.randrange(6)
    old = parent[key]
    if op == 0:  # remove the node
        del parent[key]
    elif op == 1 and isinstance(parent, list):  # duplicate a list element
        parent.insert(key, json.loads(json.dumps(old)))
    elif op == 2 and isinstance(parent, dict):  # add an unknown key
        parent[key + "_x" if isinstance(key, str) else "x"] = rng.choice(EXTREME_VALUES)
    elif op == 3 and isinstance(old, (int, float)) and not isinstance(old, bool):
        parent[key] = rng.choice((old + 1, old - 1, old * 2, -old, old + 2**32))
    elif op == 4 and isinstance(old, str) and len(old) > 40 and rng.random() < 0.7:
        parent[key] = mutate_text(old.encode(), rng).decode("utf-8", "replace")  # e.g. host-op MLIR
    elif op == 4 and isinstance(old, str):
        parent[key] = rng.choice(("", old + "x", old[:-1], "f64", "input", "output", "mpe0",
                                  "dma9", "\u2603", old * 3))
    else:
        parent[key] = rng.choice(EXTREME_VALUES)
    return value


# .rbin mutators ---------------------------------------------------------------------------

_PREFIX = struct.Struct("<4sHHI")


def _split_rbin(data: bytes) -> tuple[bytes, dict, bytes] | None:
    try:
        head_len = _PREFIX.unpack_from(data)[3]
        header = json.loads(data[_PREFIX.size:_PREFIX.size + head_len])
    except (struct.error, ValueError):
        return None
    payload = data[_PREFIX.size + head_len:-32]
    return data[:_PREFIX.size], header, payload


def fix_checksum(data: bytes) -> bytes:
    """The bytes with their trailing SHA-256 recomputed (an intact-looking corrupt file)."""
    if len(data) < 32:
        return data
    body = data[:-32]
    return body + hashlib.sha256(body).digest()


def _join_rbin(prefix: bytes, header, payload: bytes, rng: random.Random) -> bytes:
    magic, version, reserved, _ = _PREFIX.unpack(prefix)
    head = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    if isinstance(header, dict) and isinstance(header.get("payload_length"), int) and rng.random() < 0.7:
        header["payload_length"] = len(payload)
        head = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    body = _PREFIX.pack(magic, version, reserved, len(head)) + head + payload
    return body + hashlib.sha256(body).digest()


def mutate_rbin(data: bytes, rng: random.Random) -> bytes:
    """Header-JSON-aware mutations (re-serialised, checksum fixed), payload byte
    mutations with the checksum fixed, and raw byte mutations (checksum fixed or not)."""
    parts = _split_rbin(data)
    choice = rng.random()
    if parts is not None and choice < 0.5:
        prefix, header, payload = parts
        # The machine table, a favourite target, with its fingerprint usually recomputed.
        if isinstance(header, dict) and isinstance(header.get("machine"), dict) and rng.random() < 0.3:
            header["machine"] = mutate_value(header["machine"], rng)
            if rng.random() < 0.8:
                header["machine_fingerprint"] = _fingerprint(header["machine"])
            return _join_rbin(prefix, header, payload, rng)
        return _join_rbin(prefix, mutate_value(header, rng), payload, rng)
    if parts is not None and choice < 0.7:
        prefix, header, payload = parts
        payload = rng.choice((flip_bytes, insert_bytes, delete_bytes, truncate))(payload, rng)
        return _join_rbin(prefix, header, payload, rng)
    raw = rng.choice((flip_bytes, insert_bytes, delete_bytes, truncate))(data, rng)
    return fix_checksum(raw) if rng.random() < 0.5 else raw


def _fingerprint(table) -> str:
    from rapid_mlir.machine import Machine, MachineError

    try:
        return Machine.from_dict(table).fingerprint()
    except (MachineError, TypeError, ValueError):
        return "0" * 16


# Machine files ----------------------------------------------------------------------------


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()
                               if x is not None) + "}"
    return '""'


def to_toml(table: dict) -> bytes:
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in table.items()
                   if v is not None).encode()


def mutate_machine(data: bytes, rng: random.Random) -> bytes:
    """A machine TOML file: one or two field mutations, or text mutations."""
    import tomllib

    if rng.random() < 0.35:
        return mutate_text(data, rng)
    table = tomllib.loads(data.decode())
    for _ in range(rng.choice((1, 1, 2))):
        table = mutate_value(table, rng)
        if not isinstance(table, dict):
            return json.dumps(table).encode()
    return to_toml(table)


# .npz inputs ------------------------------------------------------------------------------


def mutate_onnx(data: bytes, rng: random.Random) -> bytes:
    """ONNX models: mostly structured edits of the parsed protobuf (a node's op type,
    input name or attribute changed, a node dropped or duplicated, a tensor's dims or data
    type changed, an input's shape made symbolic or wrong, the opset changed), re-serialised;
    otherwise raw byte damage (a protobuf that does not decode, or decodes wrongly)."""
    import onnx

    if rng.random() < 0.25:
        return flip_bytes(data, rng) if rng.random() < 0.5 else truncate(data, rng)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:  # noqa: BLE001 - an earlier mutation damaged the seed: damage it more
        return flip_bytes(data, rng)
    for _ in range(rng.choice((1, 1, 2))):
        rng.choice(_ONNX_EDITS)(model, rng)
    return model.SerializeToString()


def _onnx_node_op(model, rng: random.Random) -> None:
    nodes = model.graph.node
    if nodes:
        kinds = sorted({n.op_type for n in nodes}) + ["Unknown", "Loop", "Resize", "Pow", "Cast"]
        rng.choice(nodes).op_type = rng.choice(kinds)


def _onnx_node_io(model, rng: random.Random) -> None:
    nodes = model.graph.node
    if not nodes:
        return
    node = rng.choice(nodes)
    names = [t for n in nodes for t in list(n.input) + list(n.output)] + ["", "missing"]
    how = rng.randrange(3)
    if how == 0 and node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(names)
    elif how == 1 and node.input:
        del node.input[rng.randrange(len(node.input))]
    elif node.output:
        node.output[rng.randrange(len(node.output))] = rng.choice(names)


def _onnx_node_list(model, rng: random.Random) -> None:
    nodes = model.graph.node
    if not nodes:
        return
    i = rng.randrange(len(nodes))
    if rng.random() < 0.5:
        del nodes[i]
    else:
        nodes.add().CopyFrom(nodes[i])


def _onnx_attribute(model, rng: random.Random) -> None:
    import onnx

    nodes = [n for n in model.graph.node if n.attribute]
    if not nodes:
        return
    node = rng.choice(nodes)
    attr = rng.choice(node.attribute)
    how = rng.randrange(4)
    if how == 0:
        node.attribute.remove(attr)
    elif how == 1 and attr.ints:
        attr.ints[rng.randrange(len(attr.ints))] = rng.choice(_INT64_EXTREMES)
    elif how == 2 and attr.type == onnx.AttributeProto.INT:
        attr.i = rng.choice(_INT64_EXTREMES)
    elif how == 2 and attr.type == onnx.AttributeProto.FLOAT:
        attr.f = rng.choice((0.0, -1.0, 1e30, math.nan, math.inf))
    else:
        attr.name = rng.choice(("axis", "pads", "strides", "kernel_shape", "group", "perm", "bogus"))


def _onnx_tensor(model, rng: random.Random) -> None:
    inits = model.graph.initializer
    if not inits:
        return
    t = rng.choice(inits)
    how = rng.randrange(3)
    if how == 0 and t.dims:
        t.dims[rng.randrange(len(t.dims))] = rng.choice((0, 1, 3, 2**31, -1))
    elif how == 1:
        t.data_type = rng.choice((0, 2, 5, 9, 11, 16, 100))
    else:
        t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data) + 1)]


def _onnx_io_shape(model, rng: random.Random) -> None:
    values = list(model.graph.input) + list(model.graph.output)
    if not values:
        return
    v = rng.choice(values)
    dims = v.type.tensor_type.shape.dim
    how = rng.randrange(3)
    if how == 0 and dims:
        dims[rng.randrange(len(dims))].dim_param = "batch"
    elif how == 1 and dims:
        dims[rng.randrange(len(dims))].dim_value = rng.choice((0, 1, 7, 2**31))
    else:
        v.type.tensor_type.elem_type = rng.choice((0, 2, 6, 9, 10, 11))


def _onnx_opset(model, rng: random.Random) -> None:
    if model.opset_import:
        model.opset_import[0].version = rng.choice((1, 7, 12, 13, 18, 21, 22, 99))
        if rng.random() < 0.2:
            model.opset_import[0].domain = "com.example"


_INT64_EXTREMES = (0, -1, 1, 2, 2**31, -(2**31) - 1, 2**32, 2**63 - 1, -(2**63))
"""Extreme values a protobuf int64 field can hold."""

_ONNX_EDITS = (_onnx_node_op, _onnx_node_io, _onnx_node_list, _onnx_attribute, _onnx_attribute,
               _onnx_tensor, _onnx_io_shape, _onnx_opset)


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def mutate_npz(data: bytes, rng: random.Random) -> bytes:
    """Arrays renamed, dropped, added, reshaped, retyped or filled with extreme values;
    or the archive's bytes damaged."""
    if rng.random() < 0.25:
        return rng.choice((flip_bytes, truncate, delete_bytes, insert_bytes))(data, rng)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _mutate_arrays(data, rng)


def _mutate_arrays(data: bytes, rng: random.Random) -> bytes:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    names = list(arrays)
    name = rng.choice(names) if names else "x"
    a = arrays.get(name, np.zeros(1, np.float32))
    op = rng.randrange(9)
    if op == 0:
        arrays.pop(name, None)
    elif op == 1:
        arrays[name + rng.choice(("_", "x", ""))] = arrays.pop(name, a)
        if rng.random() < 0.5:
            arrays["extra"] = a
    elif op == 2:
        arrays[name] = a.reshape(-1)
    elif op == 3:
        shape = list(a.shape) or [1]
        shape[rng.randrange(len(shape))] += rng.choice((-1, 1, 7))
        arrays[name] = np.zeros([max(s, 0) for s in shape], a.dtype)
    elif op == 4:
        arrays[name] = a.astype(rng.choice((np.float64, np.float16, np.int32, np.int64, np.uint8,
                                            np.bool_, np.complex64)))
    elif op == 5:
        arrays[name] = np.array(["a"] * max(a.size, 1)).reshape(a.shape or (1,))
    elif op == 6:
        arrays[name] = np.full(a.shape, rng.choice((np.nan, np.inf, -np.inf, 1e308, 65504.0, 1e6)),
                               a.dtype if a.dtype.kind == "f" else np.float64)
    elif op == 7:
        arrays[name] = rng.choice((np.float32(1.0), np.zeros((0,), np.float32),
                                   np.zeros(a.shape + (1,), np.float32), np.zeros((2**20,), np.float32)))
    else:
        arrays[name] = np.asfortranarray(a.T) if a.ndim > 1 else a[::-1].copy()
    return _npz_bytes(arrays)


# Targets -----------------------------------------------------------------------------------


@dataclass
class Target:
    """One tool reading one kind of mutated file."""

    name: str
    tool: str
    suffix: str
    seeds: list[tuple[str, bytes]]
    mutate: Callable[[bytes, random.Random], bytes]
    argv: Callable[[Path, Path], list[str]]
    """argv for the mutated file and the work directory (outputs go under it)."""
    outputs: tuple[str, ...] = ()
    """Files under the work directory that must not exist after a failed run."""


def _main_of(tool: str):
    from rapid_mlir.tools import (
        rapid_as,
        rapid_objdump,
        rapid_opt,
        rapid_ref,
        rapid_run,
        rapidc,
    )

    return {"rapid-opt": rapid_opt.main, "rapidc": rapidc.main, "rapid-as": rapid_as.main,
            "rapid-objdump": rapid_objdump.main, "rapid-run": rapid_run.main,
            "rapid-ref": rapid_ref.main}[tool]


def _read(path: Path) -> tuple[str, bytes]:
    return (str(path.relative_to(ROOT)), path.read_bytes())


HOST_NET = """\
func.func @main(%x: tensor<4x8xf32> {nn.name = "x"}, %ids: tensor<3xi64> {nn.name = "ids"}) -> (tensor<3x8xf32> {nn.name = "y"}) {
  %r = nn.relu %x : tensor<4x8xf32>
  %g = nn.gather %r, %ids axis 0 : (tensor<4x8xf32>, tensor<3xi64>) -> tensor<3x8xf32>
  %y = nn.relu %g : tensor<3x8xf32>
  func.return %y : tensor<3x8xf32>
}
"""
"""A network with a host op (nn.gather), for a seed binary with a host-op manifest."""


def build_targets(work: Path) -> list[Target]:
    """The fuzz targets and their seeds; builds binaries and .npz seeds under `work`."""
    from rapid_mlir.backend.assembler import assemble_file
    from rapid_mlir.backend.rbin import write_rbin
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.machine import PRESETS
    from rapid_mlir.reference.signature import find_entry, random_inputs, signature
    from rapid_mlir.tools import rapidc

    seeds_dir = work / "seeds"
    seeds_dir.mkdir(parents=True, exist_ok=True)
    mlir = [_read(ROOT / "examples" / "small_cnn.mlir")]
    mlir += [_read(p) for p in sorted((ROOT / "test" / "filecheck" / "inputs").glob("*.mlir"))]
    mlir += [_read(p) for p in sorted((ROOT / "examples" / "mem").glob("*.mlir"))]
    asm = [_read(p) for p in sorted((ROOT / "examples" / "asm").glob("*.rasm"))]
    asm += [_read(p) for p in sorted((ROOT / "test" / "filecheck" / "inputs").glob("*.rasm"))]
    rbin = [(name, write_rbin(assemble_file(ROOT / name))) for name, _ in asm[:2]]
    net = ROOT / "test" / "filecheck" / "inputs" / "ic-split-conv.mlir"
    net_rbin = seeds_dir / "ic-split-conv.rbin"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if rapidc.main([str(net), "-o", str(net_rbin), "--machine", "rapid-1c"]) != 0:
            raise RuntimeError(f"cannot compile the seed {net}")
    rbin.append(("ic-split-conv.rbin", net_rbin.read_bytes()))
    host_net, host_rbin = seeds_dir / "gather.mlir", seeds_dir / "gather.rbin"
    host_net.write_text(HOST_NET)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if rapidc.main([str(host_net), "-o", str(host_rbin), "--machine", "rapid-1c"]) != 0:
            raise RuntimeError("cannot compile the host-op seed")
    rbin.append(("gather.rbin (host ops)", host_rbin.read_bytes()))
    inputs = random_inputs(signature(find_entry(read_module(str(net)))), 0)
    npz = [("ic-split-conv inputs", _npz_bytes(inputs))]
    onnx_seeds = _onnx_seeds()
    machines = [(f"{n}.toml", to_toml(m.to_dict())) for n, m in PRESETS.items()]
    machines += [(f"{n}-base.toml", f'base = "{n}"\nlx_bytes = {m.lx_bytes}\n'.encode())
                 for n, m in PRESETS.items()]
    machines.append(_read(ROOT / "test" / "filecheck" / "inputs" / "tiny-lx.toml"))
    plain_asm = seeds_dir / "gemm_1core_nomachine.rasm"
    plain_asm.write_bytes(re.sub(rb"(?m)^\.machine.*\n", b"", asm[0][1]))
    shutil.copy(ROOT / "examples" / "small_cnn.npz", work / "small_cnn.npz")  # nn.weights is relative
    net_s, plain_s, rbin_s = str(net), str(plain_asm), str(net_rbin)
    return [
        Target("opt", "rapid-opt", ".mlir", mlir, mutate_mlir,
               lambda f, w: [str(f), "-o", str(w / "out.mlir")], ("out.mlir",)),
        Target("opt-pipeline", "rapid-opt", ".mlir", mlir[1:], mutate_mlir,
               lambda f, w: [str(f), "-p", "canonicalize,cse", "-o", str(w / "out.mlir")], ("out.mlir",)),
        Target("rapidc", "rapidc", ".mlir", [m for m in mlir if b"nn." in m[1]], mutate_mlir,
               lambda f, w: [str(f), "-o", str(w / "out.rbin"), "--machine", "rapid-1c"], ("out.rbin",)),
        Target("rapid-as", "rapid-as", ".rasm", asm, mutate_text,
               lambda f, w: [str(f), "-o", str(w / "out.rbin")], ("out.rbin",)),
        Target("objdump", "rapid-objdump", ".rbin", rbin, mutate_rbin,
               lambda f, w: [str(f), "--header", "-o", str(w / "out.rasm")], ("out.rasm",)),
        Target("rapid-run", "rapid-run", ".rbin", rbin, mutate_rbin,
               lambda f, w: [str(f), "--no-race-check", "--outputs", str(w / "out.npz"),
                             "--stats", str(w / "stats.json")], ("out.npz", "stats.json")),
        Target("machine-as", "rapid-as", ".toml", machines, mutate_machine,
               lambda f, w: [plain_s, "--machine", str(f), "-o", str(w / "out.rbin")], ("out.rbin",)),
        Target("machine-rapidc", "rapidc", ".toml", machines, mutate_machine,
               lambda f, w: [net_s, "--machine", str(f), "--emit", "mem", "-o", str(w / "out.mlir")],
               ("out.mlir",)),
        Target("npz-run", "rapid-run", ".npz", npz, mutate_npz,
               lambda f, w: [rbin_s, "--inputs", str(f), "--no-race-check", "--outputs", str(w / "out.npz")],
               ("out.npz",)),
        Target("npz-ref", "rapid-ref", ".npz", npz, mutate_npz,
               lambda f, w: [net_s, "--inputs", str(f), "--outputs", str(w / "out.npz")], ("out.npz",)),
        Target("onnx-rapidc", "rapidc", ".onnx", onnx_seeds, mutate_onnx,
               lambda f, w: [str(f), "-o", str(w / "out.rbin"), "--machine", "rapid-1c"], ("out.rbin",)),
        Target("onnx-ref", "rapid-ref", ".onnx", onnx_seeds, mutate_onnx,
               lambda f, w: [str(f), "--random-inputs", "0", "--outputs", str(w / "out.npz")], ("out.npz",)),
    ]


ONNX_GRAPH_SEEDS = (0, 1, 2, 3, 5, 8)
"""Seeds of `fuzz.generate` graphs exported as ONNX seeds (between them: conv, gemm,
matmul, LSTM, GRU, gather, pad, split, reduce, normalisations)."""


def _onnx_seeds() -> list[tuple[str, bytes]]:
    """ONNX models: the bundled network and a few generated graphs exported by
    `reference.onnx_export`, and a model with the shape arithmetic that PyTorch's
    exporters write (Shape, Gather, Unsqueeze, Concat, Reshape)."""
    import onnx.helper as oh
    from onnx import TensorProto

    from rapid_mlir.fuzz.generate import generate
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.reference.onnx_export import to_onnx
    from rapid_mlir.weights import store_for

    path = ROOT / "examples" / "small_cnn.mlir"
    module = read_module(path)
    seeds = [("small_cnn.onnx", to_onnx(module, store_for(module, path)).SerializeToString())]
    for seed in ONNX_GRAPH_SEEDS:
        case = generate(seed)
        seeds.append((f"generated graph {seed}.onnx", to_onnx(case.module, case.weights).SerializeToString()))
    i64 = lambda name, v: oh.make_tensor(name, TensorProto.INT64, [len(v)], v)  # noqa: E731
    nodes = [oh.make_node("Shape", ["x"], ["s"]),
             oh.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             oh.make_node("Unsqueeze", ["n", "zero"], ["n1"]),
             oh.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
             oh.make_node("Reshape", ["x", "shape"], ["flat"]),
             oh.make_node("Relu", ["flat"], ["y"])]
    graph = oh.make_graph(nodes, "shape_arith", [oh.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          initializer=[oh.make_tensor("zero", TensorProto.INT64, [], [0]), i64("minus1", [-1])])
    seeds.append(("shape arithmetic.onnx", oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
                  .SerializeToString()))
    return seeds


# Running and classifying -------------------------------------------------------------------


class Hang(BaseException):
    """Raised by the alarm when one run exceeds the time limit."""


@dataclass
class Outcome:
    kind: str  # "ok", "error" or "bug"
    code: int | None
    stderr: str
    reason: str = ""
    detail: str = ""  # the traceback of an internal error, for the bug report
    seconds: float = 0.0
    slow: float | None = None
    """Seconds of the second try of a run that passed the time limit once (see `run_input`)."""


ERROR_SOURCES: Counter = Counter()
"""(tool, exception type and the innermost rapid_mlir/xdsl frame) of every clean error:
a KeyError or a NumPy ValueError from deep inside a pass is clean by the rules but may
still deserve a better message."""


def _source(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "rapid_mlir" in f.filename or "xdsl" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].name}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def run_tool(tool: str, argv: list[str], time_limit: float = TIME_LIMIT) -> tuple[int | None, str, str, str, float]:
    """Runs `tool`'s main in-process: (exit code or None if it raised, stdout, stderr,
    traceback of an escaped or internal exception, seconds)."""
    from rapid_mlir.tools import errors

    main = _main_of(tool)
    out, err = io.StringIO(), io.StringIO()
    seen: list[str] = []
    original = errors.is_user_error

    def spy(exc: BaseException) -> bool:
        user = original(exc)
        if not user:
            seen.append("".join(traceback.format_exception(exc)))
        else:
            ERROR_SOURCES[(tool, _source(exc))] += 1
        return user

    def alarm(signum, frame):
        raise Hang(f"over {time_limit} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    errors.is_user_error = spy
    start = time.perf_counter()
    code: int | None = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = main(argv)
    except BaseException as e:  # noqa: BLE001 - an escaped exception is the finding
        seen.append("".join(traceback.format_exception(e)))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        errors.is_user_error = original
    return code, out.getvalue(), err.getvalue(), "\n".join(seen), time.perf_counter() - start


def classify(tool: str, code, stdout: str, stderr: str, tb: str, seconds: float,
             leftovers: list[str], time_limit: float = TIME_LIMIT) -> Outcome:
    def bug(reason: str) -> Outcome:
        return Outcome("bug", code, stderr, reason, tb, seconds)

    if "Hang" in tb or seconds > time_limit:
        return bug(f"took over {time_limit:g} s")
    if code is None:
        return bug("exception escaped main: " + tb.strip().splitlines()[-1])
    if "Traceback" in stderr or "Traceback" in stdout:
        return bug("traceback printed")
    if "internal error" in stderr:
        return bug(stderr.strip().splitlines()[0])
    if leftovers:
        return bug(f"{'failed run' if code else 'run'} left {', '.join(leftovers)}")
    if code == 0:
        return Outcome("ok", 0, stderr, seconds=seconds)
    if stderr.count(f"{tool}: error:") != 1 or not stderr.startswith(f"{tool}: error:"):
        return bug(f"exit status {code} without exactly one '{tool}: error:' message")
    return Outcome("error", code, stderr, seconds=seconds)


def run_case(target: Target, index: int, seed: int, work: Path) -> tuple[bytes, Outcome]:
    """Mutates one seed (chosen by (target, seed, index)), runs the tool, classifies."""
    rng = random.Random(f"{target.name}/{seed}/{index}")
    _, original = rng.choice(target.seeds)
    data = target.mutate(original, rng)
    return data, run_input(target, data, work)


def run_input(target: Target, data: bytes, work: Path) -> Outcome:
    """Runs the target's tool on the given file contents and classifies the outcome."""
    case = work / "case"
    shutil.rmtree(case, ignore_errors=True)
    case.mkdir(parents=True)
    path = case / ("input" + target.suffix)
    path.write_bytes(data)
    shutil.copy(work / "small_cnn.npz", case / "small_cnn.npz")
    code, out, err, tb, seconds = run_tool(target.tool, target.argv(path, case))
    if "Hang" in tb or seconds > TIME_LIMIT:
        # A big but valid input (a 64 MB output tensor to write, say) can pass the limit
        # when the machine is busy: one more try, alone and with a longer limit, tells a
        # slow run from a hang. A slow run is classified by how it ends, and counted.
        for p in case.iterdir():
            if p.name != path.name:
                p.unlink() if p.is_file() else shutil.rmtree(p, ignore_errors=True)
        shutil.copy(work / "small_cnn.npz", case / "small_cnn.npz")
        code, out, err, tb, again = run_tool(target.tool, target.argv(path, case), SLOW_LIMIT)
        slow = again if "Hang" not in tb and again <= SLOW_LIMIT else None
        seconds = 0.0 if slow is not None else again
    else:
        slow = None
    expected = {path.name, "small_cnn.npz"}
    left = sorted(p.name for p in case.iterdir() if p.name not in expected
                  and (code != 0 or ".tmp" in p.name))
    outcome = classify(target.tool, code, out, err, tb, seconds, left)
    outcome.slow = slow
    return outcome


SLOW_LIMIT = 3 * TIME_LIMIT
"""A run over TIME_LIMIT is tried again with this limit; over it too, it is a hang."""


@dataclass
class Report:
    counts: dict[str, Counter] = field(default_factory=dict)
    bugs: list[tuple[str, int, bytes, Outcome]] = field(default_factory=list)
    slow: list[tuple[str, int, float]] = field(default_factory=list)
    """(target, index, seconds alone) of the runs over the time limit only once."""

    def add(self, target: Target, index: int, data: bytes, outcome: Outcome) -> None:
        self.counts.setdefault(target.name, Counter())[outcome.kind] += 1
        if outcome.slow is not None:
            self.slow.append((target.name, index, outcome.slow))
        if outcome.kind == "bug":
            self.bugs.append((target.name, index, data, outcome))

    def table(self) -> str:
        lines = [f"{'target':<16} {'tool':<14} {'inputs':>7} {'ok':>6} {'error':>6} {'bug':>5} {'slow':>5}"]
        for name, c in self.counts.items():
            slow = sum(1 for t, _, _ in self.slow if t == name)
            lines.append(f"{name:<16} {_TOOLS.get(name, ''):<14} {sum(c.values()):>7} {c['ok']:>6} "
                         f"{c['error']:>6} {c['bug']:>5} {slow:>5}")
        for name, index, seconds in self.slow:
            lines.append(f"slow (over {TIME_LIMIT:g} s once, {seconds:.1f} s alone): {name} case {index}")
        return "\n".join(lines)


_TOOLS: dict[str, str] = {}


def fuzz(targets: Sequence[Target], work: Path, *, cases: int | None = None,
         seconds: float | None = None, seed: int = 0,
         on_bug: Callable[[str, int, bytes, Outcome], None] | None = None) -> Report:
    """Round-robin over `targets`: `cases` inputs per target, or until `seconds` pass."""
    report = Report()
    for t in targets:
        _TOOLS[t.name] = t.tool
    deadline = None if seconds is None else time.monotonic() + seconds
    index = 0
    while True:
        if cases is not None and index >= cases:
            break
        for t in targets:
            if deadline is not None and time.monotonic() > deadline:
                return report
            data, outcome = run_case(t, index, seed, work)
            report.add(t, index, data, outcome)
            if outcome.kind == "bug" and on_bug is not None:
                on_bug(t.name, index, data, outcome)
        index += 1
    return report


def _save_bug(out: Path, targets: dict[str, Target], seed: int):
    seen: set[tuple[str, str]] = set()

    def save(name: str, index: int, data: bytes, outcome: Outcome) -> None:
        key = (name, re.sub(r"\d+", "N", outcome.reason)[:120])
        first = key not in seen
        seen.add(key)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{name}-{seed}-{index}"
        (out / (stem + targets[name].suffix)).write_bytes(data)
        (out / (stem + ".txt")).write_text(
            f"target {name} ({targets[name].tool}), seed {seed}, case {index}\n"
            f"reason: {outcome.reason}\nstderr:\n{outcome.stderr}\n{outcome.detail}\n")
        if first:
            print(f"bug: {name} case {index}: {outcome.reason}", flush=True)

    return save


def _replay(args) -> int:
    with tempfile.TemporaryDirectory(prefix="rapid-fuzz-") as tmp:
        work = Path(tmp)
        targets = {t.name: t for t in build_targets(work)}
        if not args.target or len(args.target) != 1 or args.target[0] not in targets:
            print(f"fuzz-inputs: error: --replay needs one --target of {', '.join(targets)}", file=sys.stderr)
            return 1
        outcome = run_input(targets[args.target[0]], Path(args.replay).read_bytes(), work)
    print(f"{outcome.kind}: {outcome.reason}\n{outcome.stderr}{outcome.detail}")
    return 1 if outcome.kind == "bug" else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="rapid-fuzz-inputs", description="Mutation-fuzz the tools' input files.")
    p.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    p.add_argument("--cases", type=int, help="inputs per target instead of a time budget")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    p.add_argument("--out", default="build/fuzz-inputs", help="directory for the bugs' inputs")
    p.add_argument("--target", action="append", help="fuzz only this target (repeatable)")
    p.add_argument("--sources", action="store_true", help="also count the clean errors by where they were raised")
    p.add_argument("--replay", metavar="FILE", help="run one saved input (with one --target) and classify it")
    args = p.parse_args(argv)
    if args.replay:
        return _replay(args)
    with tempfile.TemporaryDirectory(prefix="rapid-fuzz-") as tmp:
        work = Path(tmp)
        targets = build_targets(work)
        if args.target:
            targets = [t for t in targets if t.name in args.target]
        by_name = {t.name: t for t in targets}
        report = fuzz(targets, work, cases=args.cases,
                      seconds=None if args.cases else args.seconds, seed=args.seed,
                      on_bug=_save_bug(Path(args.out), by_name, args.seed))
    print(report.table())
    if args.sources:
        print("clean errors by source:")
        for (tool, where), n in ERROR_SOURCES.most_common():
            print(f"{n:>7}  {tool:<14} {where}")
    print(f"bugs: {len(report.bugs)}" + (f" (inputs saved under {args.out})" if report.bugs else ""))
    return 1 if report.bugs else 0


if __name__ == "__main__":
    sys.exit(main())
