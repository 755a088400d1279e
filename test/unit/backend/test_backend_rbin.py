"""The .rbin container: round trips, and a clear RbinError for every kind of bad file."""

import hashlib
import json
import struct

import pytest

from rapid_mlir.backend.assembler import assemble
from rapid_mlir.backend.encoding import encode
from rapid_mlir.backend.isa import Instruction
from rapid_mlir.backend.rbin import PREFIX, RbinError, read_rbin, write_rbin
from rapid_mlir.machine import Machine, load_machine

TEXT = """\
.machine rapid-4c
.input x f16 [4, 4] @ 0x0
.output y f32 [4] @ 0x100
.data w f16 [2, 2] @ 0x200 = 1.0, -2.5, 0.5, 3.0
.data b f32 [3] @ 0x300 = 0.1, -inf, 2.0
.core 0
.stream dma0
    li r1, 0x100
    dma.copy lx[r1] f16 {4:4, 4:1}, dram[0x0] f16 {4:4, 4:1} pad {1:0, 0:1} padval -1.0
    signal s1 @2
    halt
.stream sfu0
    wait s1
    sfu.relu lx[0x0] f16 {4:1}, lx[0x100] f16 {4:1}
    halt
.core 2
.stream mpe1
    mpe.mm acc[0x0] f32 {1:0, 8:8, 8:1}, lx[r1] f16 {1:0, 8:8, 8:1}, lx[0x2000] f16 {8:8, 8:1}
    halt
"""


@pytest.fixture(scope="module")
def program():
    return assemble(TEXT)


@pytest.fixture(scope="module")
def blob(program):
    return write_rbin(program)


def split(blob):
    """(header dict, payload bytes) of a well-formed binary."""
    _, _, _, head_len = PREFIX.unpack_from(blob)
    header = json.loads(blob[PREFIX.size:PREFIX.size + head_len])
    return header, blob[PREFIX.size + head_len:-32]


def build(header, payload, version=2, reserved=0, raw_header=None):
    """A binary with a valid checksum around any header (dict or raw bytes) and payload."""
    head = raw_header if raw_header is not None else json.dumps(header).encode()
    body = PREFIX.pack(b"RBIN", version, reserved, len(head)) + head + payload
    return body + hashlib.sha256(body).digest()


def test_round_trip(program, blob):
    assert blob[:4] == b"RBIN"
    assert read_rbin(blob) == program
    assert read_rbin(blob, expect_machine=load_machine("rapid-4c")) == program
    assert write_rbin(read_rbin(blob)) == blob


def test_layout(program, blob):
    header, payload = split(blob)
    assert struct.unpack_from("<HH", blob, 4) == (2, 0)
    assert header["machine_fingerprint"] == program.machine.fingerprint()
    assert Machine.from_dict(header["machine"]) == program.machine
    assert header["payload_length"] == len(payload)
    assert header["symbols"] == [
        {"name": "x", "kind": "input", "dtype": "f16", "shape": [4, 4], "address": 0},
        {"name": "y", "kind": "output", "dtype": "f32", "shape": [4], "address": 256}]
    assert [(c["core"], c["stream"], c["count"]) for c in header["code"]] == [
        (0, "dma0", 4), (0, "sfu0", 3), (2, "mpe1", 2)]
    first = header["code"][0]
    assert payload[first["offset"]:first["offset"] + 8] == encode(Instruction("li", {"rd": 1, "imm": 0x100}))
    w = header["data"][0]
    assert (w["name"], w["length"]) == ("w", 8)
    assert payload[w["offset"]:w["offset"] + 8] == program.data[0].data
    assert blob[-32:] == hashlib.sha256(blob[:-32]).digest()


def test_wrong_magic(blob):
    with pytest.raises(RbinError, match=r"^not a rapid binary"):
        read_rbin(b"ELF\x7f" + blob[4:])
    with pytest.raises(RbinError, match=r"^not a rapid binary"):
        read_rbin(b"RB")


def test_unsupported_version(blob):
    header, payload = split(blob)
    with pytest.raises(RbinError, match=r"^unsupported rapid binary format version 1 \(this tool reads version 2\)"):
        read_rbin(build(header, payload, version=1))


@pytest.mark.parametrize("keep", [6, 11, 40, "header", "payload", -1])
def test_truncated(blob, keep):
    head_len = PREFIX.unpack_from(blob)[3]
    n = {"header": PREFIX.size + head_len - 3, "payload": PREFIX.size + head_len + 20,
         -1: len(blob) - 1}.get(keep, keep)
    with pytest.raises(RbinError, match=rf"^truncated file: expected (at least )?\d+ bytes.*found {n}$"):
        read_rbin(blob[:n])


def test_truncation_reports_expected_size(blob):
    with pytest.raises(RbinError, match=rf"^truncated file: expected {len(blob)} bytes, found {len(blob) - 10}$"):
        read_rbin(blob[:-10])


def test_trailing_data(blob):
    with pytest.raises(RbinError, match=r"^corrupted rapid binary: expected \d+ bytes, found \d+ \(trailing data\)"):
        read_rbin(blob + b"\x00")


@pytest.mark.parametrize("where", ["payload", "machine name", "checksum"])
def test_flipped_byte(blob, where):
    head_len = PREFIX.unpack_from(blob)[3]
    pos = {"payload": PREFIX.size + head_len + 5, "machine name": blob.index(b"rapid-4c") + 2,
           "checksum": len(blob) - 1}[where]
    bad = bytearray(blob)
    bad[pos] ^= 0x01
    with pytest.raises(RbinError, match=r"^corrupted rapid binary: the SHA-256 checksum does not match"):
        read_rbin(bytes(bad))


def test_wrong_machine(blob):
    one = load_machine("rapid-1c")
    with pytest.raises(RbinError) as err:
        read_rbin(blob, expect_machine=one)
    four = load_machine("rapid-4c")
    assert str(err.value) == (f"built for machine 'rapid-4c' (fingerprint {four.fingerprint()}) "
                              f"but asked to run on 'rapid-1c' ({one.fingerprint()})")


def test_fingerprint_must_match_the_machine_fields(blob):
    header, payload = split(blob)
    header["machine"]["registers"] = 8
    with pytest.raises(RbinError, match=r"^header 'machine_fingerprint' \w+ does not match its machine fields"):
        read_rbin(build(header, payload))


def test_bad_json(blob):
    _, payload = split(blob)
    with pytest.raises(RbinError, match=r"^corrupted rapid binary: the header is not valid JSON"):
        read_rbin(build(None, payload, raw_header=b'{"machine": '))
    with pytest.raises(RbinError, match=r"^corrupted rapid binary: the header must be a JSON object, not list"):
        read_rbin(build(None, payload, raw_header=b"[]"))
    with pytest.raises(RbinError, match=r"^corrupted rapid binary: the header is not UTF-8"):
        read_rbin(build(None, payload, raw_header=b'{"\xff": 1}'))


def _edit(header, path, value):
    obj = header
    for key in path[:-1]:
        obj = obj[key]
    if value is KeyError:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


@pytest.mark.parametrize("path, value, message", [
    (["code"], KeyError, "header: field 'code' is missing"),
    (["symbols"], {}, "header: field 'symbols' must be a list, got {}"),
    (["machine"], "rapid-4c", "header: field 'machine' must be an object"),
    (["machine", "cores"], 0, "header field 'machine': the binary's machine: machine field 'cores' = 0 is out of range"),
    (["symbols", 0, "address"], "0", "header 'symbols' entry 0: field 'address' must be an integer, got '0'"),
    (["symbols", 0, "address"], True, "header 'symbols' entry 0: field 'address' must be an integer, got True"),
    (["symbols", 1, "kind"], "temp", "header 'symbols' entry 1: kind 'temp' is not input or output"),
    (["symbols", 0, "dtype"], "f64", "header 'symbols' entry 0: dtype 'f64' is not f16 or f32"),
    (["symbols", 0, "shape"], [4, 0], "header 'symbols' entry 0: shape [4, 0] must hold integers >= 1"),
    (["data", 1], 5, "header 'data' entry 1 must be an object, got 5"),
    (["code", 0, "offset"], -8, "header 'code' entry 0: field 'offset' must be >= 0, got -8"),
    (["code", 1, "core"], KeyError, "header 'code' entry 1: field 'core' is missing"),
    (["code", 2, "length"], 10**6, "code section 2 [{o}, {e}) lies outside the {p}-byte payload"),
    (["code", 1, "offset"], 8, "code section 1 [8, {e}) overlaps code section 0 [0, 96)"),
    (["data", 0, "length"], 6, "data 'w' f16 [2, 2] needs 8 bytes but its section has 6"),
    (["code", 0, "count"], 3, "core 0 stream dma0: the header says 3 instructions but the section holds 4"),
    (["code", 2, "stream"], "sfu0", "code for core 0 stream sfu0 appears twice"),
    (["code", 2, "core"], 9, "invalid program: core 9 stream mpe1: the machine has cores 0..3"),
    (["symbols", 1, "address"], 0x2, "invalid program: output 'y' [0x2, 0x12) overlaps input 'x' [0x0, 0x20)"),
    (["symbols", 1, "name"], "w", "invalid program: the name 'w' is defined twice"),
])
def test_bad_header_fields(blob, path, value, message):
    header, payload = split(blob)
    if path == ["code", 2, "stream"]:
        header["code"][2]["core"] = 0  # a second (0, sfu0) section
    _edit(header, path, value)
    if path[0] == "code" and len(path) > 1:
        entry = header["code"][path[1]]
        message = message.format(o=entry.get("offset"), e=entry.get("offset", 0) + entry.get("length", 0),
                                 p=len(payload))
    with pytest.raises(RbinError) as err:
        read_rbin(build(header, payload))
    assert str(err.value).startswith(message), str(err.value)


def test_decode_errors_name_core_stream_and_offset(blob):
    header, payload = split(blob)
    sfu = header["code"][1]
    bad = bytearray(payload)
    bad[sfu["offset"] + 8] = 0xEE  # the opcode of the second instruction
    with pytest.raises(RbinError, match=r"^core 0 stream sfu0: byte offset 8: unknown opcode 0xee$"):
        read_rbin(build(header, bytes(bad)))


def test_streams_are_checked_again(blob):
    header, payload = split(blob)
    header["code"][2]["length"] -= 8  # drop the halt
    header["code"][2]["count"] -= 1
    with pytest.raises(RbinError, match=r"^invalid program: core 2 stream mpe1: the stream must end with halt"):
        read_rbin(build(header, payload))


def test_write_checks_the_program(program):
    from dataclasses import replace

    bad = replace(program, streams={(0, "dma0"): [Instruction("nop")]})
    with pytest.raises(ValueError, match="must end with halt"):
        write_rbin(bad)


def test_origins_round_trip_and_bad_origins_are_refused(program):
    import dataclasses

    from rapid_mlir.backend.rbin import RbinError, read_rbin, write_rbin

    program = dataclasses.replace(program, streams=dict(program.streams))  # the fixture is shared
    key = next(iter(program.streams))
    program.streams[key] = [dataclasses.replace(i, origin="conv1") for i in program.streams[key]]
    data = write_rbin(program)
    back = read_rbin(data)
    assert {i.origin for i in back.streams[key]} == {"conv1"}
    header, payload = split(data)
    entry = next(e for e in header["code"] if "origins" in e)
    for bad in ([[0, 999, "conv1"]], [[0, 1]], "conv1"):
        entry["origins"] = bad
        with pytest.raises(RbinError, match="origins"):
            read_rbin(build(header, payload))
