"""Host fallback end to end: nn ops with no device lowering (or marked `nn.host`) run on
the host inside the compiled program, between the device kernels.

Each network is compiled for every preset and run on the emulator (race and deadlock
checks on) against the reference interpreter. Tolerance: 1% of the output's scale (+1).
The device stores every tensor crossing DRAM as f16 (relative rounding 2^-11 per
store), inputs included, while the reference keeps float32 throughout; a network here
rounds a value at most four times and computes in fp32 in between, so its error stays
well below 1%, and a wrong order of host calls or a missed write is far above it.

Also: the manifest through rasm text, rbin bytes and rapid_isa IR; corrupted manifests
in a binary; the `nn.host` attribute in `convert-nn-to-tile`; `rapid-run`.
"""

import hashlib
import json

import numpy as np
import pytest
from xdsl.dialects.builtin import UnitAttr, i64

from rapid_mlir.backend.assembler import assemble
from rapid_mlir.backend.isa import DType
from rapid_mlir.backend.isa_ir import module_to_program, program_to_module
from rapid_mlir.backend.printer import program_to_text
from rapid_mlir.backend.rbin import PREFIX, RbinError, read_rbin, write_rbin
from rapid_mlir.dialects import make_context, nn
from rapid_mlir.dialects.rapid_tile import KernelOp
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module
from rapid_mlir.pipeline import compile_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load
from rapid_mlir.transforms.convert_nn_to_tile import ConvertNnToTilePass

PRESETS = ["rapid-1c", "rapid-4c", "rapid-32c"]


# Networks ---------------------------------------------------------------------------------


def host(value):
    """Marks the op of `value` `nn.host`: data movement (transpose, concat, split, pad) has
    a device lowering (dma_layers.py), as have layer norm and reduce (sfu_norms.py), so
    these networks ask for the host explicitly."""
    value.owner.attributes["nn.host"] = UnitAttr()
    return value


def host_first():
    """A transpose on the host feeds a convolution."""
    g = GraphBuilder()
    x, w = g.input("x", [1, 8, 6, 6]), g.input("w", [8, 8, 3, 3])
    t = host(g.add(nn.TransposeOp(x, perm=(0, 1, 3, 2)), "swap_hw"))
    g.output("y", g.add(nn.Conv2DOp(t, w, pads=(1, 1, 1, 1)), "conv"))
    return g, ["swap_hw"]


def host_last():
    """A matmul, then a layer norm (scale an nn.constant) on the host, writing the output."""
    g = GraphBuilder()
    m = g.add(nn.MatmulOp(g.input("a", [16, 32]), g.input("b", [32, 16])), "mm")
    scale = g.constant("ln.scale", np.linspace(0.5, 1.5, 16, dtype=np.float32))
    g.output("y", host(g.add(nn.LayerNormOp(m, scale, axis=-1), "ln")))
    return g, ["ln"]


def middle():
    """gemm -> split (two results) -> concat -> matmul; one split result is also an output."""
    g = GraphBuilder()
    a, w, b = g.input("a", [16, 32]), g.input("w", [32, 32]), g.input("b", [32, 16])
    h = g.add(nn.GemmOp(a, w, trans_b=True), "fc")
    lo, hi = g.add_multi(nn.SplitOp(h, axis=1, sizes=(8, 24)), "split")
    host(lo)
    c = host(g.add(nn.ConcatOp([hi, lo], axis=1), "swap"))
    g.output("y", g.add(nn.MatmulOp(c, b), "mm"))
    g.output("lo", lo)
    return g, ["split", "swap"]


def only_host():
    """No device kernel at all: pad -> reduce, a gather with integer indices, and a
    reduction to a scalar (a 0-d tensor crossing DRAM)."""
    g = GraphBuilder()
    x, idx = g.input("x", [2, 3, 5]), g.input("idx", [4], i64)
    p = host(g.add(nn.PadOp(x, pads=(0, 1, 0, 0, 1, 2)), "pad"))
    g.output("r", host(g.add(nn.ReduceOp(p, "max", (2,), keepdims=False), "rmax")))
    g.output("gathered", g.add(nn.GatherOp(x, idx, axis=2), "gather"))
    total = g.add(nn.ReduceOp(x, "sum", (0, 1, 2), keepdims=False), "total")
    total.owner.attributes["nn.host"] = UnitAttr()
    g.output("total", total)
    return g, ["pad", "rmax", "gather", "total"]


def lstm():
    """matmul -> gather of rows (a sequence) -> LSTM (three results, weights from the
    weight file read by the host only, as f32) -> the three outputs; a GRU on the same
    sequence. Both marked `nn.host` (decompose-rnn would run them on the device)."""
    g = GraphBuilder()
    a, b, idx = g.input("a", [16, 32]), g.input("b", [32, 8]), g.input("idx", [5, 1], i64)
    seq = g.add(nn.GatherOp(g.add(nn.MatmulOp(a, b), "embed"), idx, axis=0), "rows")
    rng = np.random.default_rng(7)
    w = g.constant("lstm.w", (rng.standard_normal((1, 16, 8)) * 0.3).astype(np.float32))
    r = g.constant("lstm.r", (rng.standard_normal((1, 16, 4)) * 0.3).astype(np.float32))
    y, y_h, y_c = g.add_multi(nn.LstmOp(seq, w, r, hidden_size=4), "lstm")
    host(y)
    for name, v in (("y", y), ("y_h", y_h), ("y_c", y_c)):
        g.output(name, v)
    wg = g.constant("gru.w", (rng.standard_normal((1, 12, 8)) * 0.3).astype(np.float32))
    rg = g.constant("gru.r", (rng.standard_normal((1, 12, 4)) * 0.3).astype(np.float32))
    _, gru_h = g.add_multi(nn.GruOp(seq, wg, rg, hidden_size=4), "gru")  # its y: unused, a scratch buffer
    host(gru_h)
    g.output("gru_h", gru_h)
    return g, ["rows", "lstm", "gru"]


def forced():
    """A convolution marked `nn.host` runs on the host although the device could."""
    g = GraphBuilder()
    x, w1, w2 = g.input("x", [1, 8, 8, 8]), g.input("w1", [8, 8, 3, 3]), g.input("w2", [16, 8, 1, 1])
    c1 = g.add(nn.Conv2DOp(x, w1, pads=(1, 1, 1, 1)), "conv_host")
    c1.owner.attributes["nn.host"] = UnitAttr()
    g.output("y", g.add(nn.Conv2DOp(c1, w2), "conv_dev"))
    return g, ["conv_host"]


def views():
    """A host op between reshapes (DRAM views): it reads a view of a kernel's result and
    writes through a view into the output."""
    g = GraphBuilder()
    m = g.add(nn.MatmulOp(g.input("a", [16, 32]), g.input("b", [32, 16])), "mm")
    t = host(g.add(nn.TransposeOp(g.add(nn.ReshapeOp(m, (2, 8, 16)), "rs"), perm=(0, 2, 1)), "t"))
    g.output("y", g.add(nn.ReshapeOp(t, (2, 128)), "flat"))
    return g, ["t"]


NETWORKS = {f.__name__: f for f in (host_first, host_last, middle, only_host, lstm, forced, views)}


def compiled(name: str, machine: str, tmp_path, **kw):
    g, hosts = NETWORKS[name]()
    weights = str(tmp_path / "w.npz")
    module, store = g.finish(weights)
    if len(store):
        store.save(weights)
    text = module_text(module)
    return text, store, compile_module(parse_module(text), machine, weights=weights, **kw), hosts


# End to end -------------------------------------------------------------------------------


@pytest.mark.parametrize("machine", PRESETS)
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_host_ops_run_inside_the_program(name, machine, tmp_path):
    text, store, program, hosts = compiled(name, machine, tmp_path)
    assert [h.layer for h in program.host_ops] == hosts
    inputs = random_inputs(signature(find_entry(parse_module(text))), 1)
    expected = run(parse_module(text), inputs, weights=store)
    result = load(program).run(inputs, check_races=True)
    assert set(result.outputs) == set(expected)
    for key, want in expected.items():
        np.testing.assert_allclose(result.outputs[key], want, rtol=0, atol=0.01 * (np.abs(want).max() + 1),
                                   err_msg=f"{name} on {machine}: output {key}")
    host = result.stats["host"]
    assert host["calls"] == len(hosts)
    assert result.cycles >= host["cycles"] >= len(hosts) * program.machine.host_call_cycles


def test_host_calls_are_issued_by_core_0_between_the_kernels(tmp_path):
    # the fixed mappings run both kernels on all four cores, so they join and release
    # with barriers (dse runs the tiny gemm on one core, joined by waits)
    _, _, program, _ = compiled("middle", "rapid-4c", tmp_path, strategy="fixed")
    calls = {key: [i.operands["entry"] for i in instrs if i.mnemonic == "host"]
             for key, instrs in program.streams.items()}
    assert calls.pop((0, "dma0")) == [0, 1]
    assert not any(calls.values())
    leader = program.streams[(0, "dma0")]
    at = [i for i, x in enumerate(leader) if x.mnemonic == "host"]
    # after the join of the first kernel (a barrier), before the release (another barrier)
    assert leader[at[0] - 1].mnemonic == "barrier" and leader[at[-1] + 1].mnemonic == "barrier"
    assert [leader[i].origin for i in at] == ["split", "swap"]


def test_weights_only_the_host_reads_stay_f32(tmp_path):
    _, _, program, _ = compiled("lstm", "rapid-1c", tmp_path)
    lstm_op = program.host_ops[1]
    assert [(t.name, t.dtype) for t in lstm_op.inputs] == [
        ("rows", DType.F16), ("lstm.w", DType.F32), ("lstm.r", DType.F32)]
    assert program.symbol("idx").dtype is DType.F32  # integer indices travel as f32
    assert [t.name for t in lstm_op.outputs] == ["y", "y_h", "y_c"]


def test_nn_host_keeps_an_op_out_of_kernels():
    g = GraphBuilder()
    c = g.add(nn.Conv2DOp(g.input("x", [1, 8, 8, 8]), g.input("w", [8, 8, 3, 3])), "c")
    relu = g.add(nn.ReluOp(c), "r")
    relu.owner.attributes["nn.host"] = UnitAttr()
    g.output("y", relu)
    module = g.finish()[0]
    ConvertNnToTilePass(machine="rapid-1c").apply(make_context(), module)
    kernels = [op for op in module.walk() if isinstance(op, KernelOp)]
    assert [k.layer.data for k in kernels] == ["c"]           # the relu is not fused
    assert not any(isinstance(op, nn.ReluOp) for op in kernels[0].walk())


# The manifest in every representation -----------------------------------------------------


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    return compiled("lstm", "rapid-4c", tmp_path_factory.mktemp("w"))[2]


def test_manifest_round_trips(program):
    assert program.host_ops
    text = program_to_text(program)
    assert '.host 1 "lstm"' in text and ".host_in lstm.w f32 [1, 16, 8] @" in text
    again = assemble(text)
    assert again == program and again.host_ops == program.host_ops
    assert program_to_text(again) == text
    assert read_rbin(write_rbin(program)) == program
    module = program_to_module(program)
    module.verify()
    assert module_to_program(module) == program
    reparsed = parse_module(str(module))  # through the IR's text form, escapes and all
    assert module_to_program(reparsed).host_ops == program.host_ops


def _rewrite(blob: bytes, edit) -> bytes:
    """The binary with `edit(header)` applied and a valid checksum."""
    _, version, reserved, head_len = PREFIX.unpack_from(blob)
    header = json.loads(blob[PREFIX.size:PREFIX.size + head_len])
    payload = blob[PREFIX.size + head_len:-32]
    edit(header)
    head = json.dumps(header).encode()
    body = PREFIX.pack(b"RBIN", version, reserved, len(head)) + head + payload
    return body + hashlib.sha256(body).digest()


def _set(path, value):
    def edit(header):
        obj = header
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value
    return edit


@pytest.mark.parametrize("path, value, message", [
    (["host_ops"], 7, r"header: field 'host_ops' must be a list, got 7"),
    (["host_ops", 0], "x", r"header 'host_ops' entry 0 must be an object"),
    (["host_ops", 1, "function"], 3, r"header 'host_ops' entry 1: field 'function' must be a string, got 3"),
    (["host_ops", 1, "inputs", 1, "dtype"], "f64", r"header 'host_ops' entry 1 inputs 1: dtype 'f64' is not f16 or f32"),
    (["host_ops", 0, "outputs", 0, "shape"], [5, 0], r"outputs 0: shape \[5, 0\] must hold integers >= 1"),
    (["host_ops", 0, "outputs"], None, r"header 'host_ops' entry 0: field 'outputs' must be a list"),
    (["host_ops", 1, "function"], "func.func @host(", r"invalid program: host op 1 \('lstm'\): its function does not parse"),
    (["host_ops", 1, "outputs", 2, "shape"], [1, 1, 5],
     r"invalid program: host op 1 \('lstm'\): output 2 'y_c' has shape \[1, 1, 5\] but the function's is \[1, 1, 4\]"),
    (["host_ops", 0, "inputs", 0, "address"], 1 << 40, r"invalid program: host op 0 \('rows'\): input 0 'embed' occupies"),
])
def test_corrupted_manifest_is_an_rbin_error(program, path, value, message):
    blob = _rewrite(write_rbin(program), _set(path, value))
    with pytest.raises(RbinError, match=message):
        read_rbin(blob)


def test_host_index_beyond_the_manifest_is_refused(program):
    def drop(header):
        header["host_ops"] = header["host_ops"][:1]
    with pytest.raises(RbinError, match=r"host 1: the program's host-op manifest has entries 0\.\.0"):
        read_rbin(_rewrite(write_rbin(program), drop))


def test_rapid_run_runs_host_ops(program, tmp_path, capsys):
    from rapid_mlir.backend.rbin import write_rbin_file
    from rapid_mlir.tools.npz import read_npz
    from rapid_mlir.tools.rapid_objdump import main as objdump
    from rapid_mlir.tools.rapid_run import main as rapid_run

    path = tmp_path / "lstm.rbin"
    write_rbin_file(path, program)
    assert rapid_run([str(path), "--outputs", str(tmp_path / "out.npz"), "--trace", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert "host calls: 3 (" in out
    assert set(read_npz(tmp_path / "out.npz")) == {"y", "y_h", "y_c", "gru_h"}
    names = {e["name"] for e in json.loads((tmp_path / "t.json").read_text())["traceEvents"]}
    assert {"host rows", "host lstm", "host gru"} <= names
    assert objdump([str(path), "--header"]) == 0
    out = capsys.readouterr().out
    assert "; host op 1 lstm: reads rows, lstm.w, lstm.r; writes y, y_h, y_c;" in out
    assert '.host 0 "rows"' in out
