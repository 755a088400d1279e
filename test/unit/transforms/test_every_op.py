"""Every `nn` op, compiled for every machine preset and run on the emulator, matches the
reference interpreter.

The graphs are the catalog of test/unit/op_cases.py (each op with non-default
attributes on a [2, 4, 7, 9] input: odd sizes, batch 2, broadcasting, padding, stride 2,
groups and depthwise), plus gather, LSTM/GRU and plain matrix products. Whatever the
compiler puts on the device or on the host, the program must run with the emulator's
race and deadlock checks on and agree with the reference.

Tolerance: the device stores every tensor in fp16 (a relative rounding of 2^-11 per
value, on the inputs, the weights and the result) and computes in fp32, so each output
may differ by about 1e-3 of its magnitude per rounding; a chain of a few ops stays well
inside `rtol = 1e-2` plus `atol = 1e-2` of the output's scale, while a wrong index, pad
or broadcast is off by the scale itself.
"""

import numpy as np
import pytest
from xdsl.dialects.builtin import i64

from op_cases import CASES, build_case, w  # test/unit/op_cases.py
from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.pipeline import compile_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load

PRESETS = ["rapid-1c", "rapid-4c", "rapid-32c"]

ON_HOST = {"gather"}
"""The cases with an op that the device does not run (docs/lowering.md lists which): the
compiler runs it on the host. Every other case must run entirely on the device."""


def extra_case(name):
    g = GraphBuilder(inline_limit=4)
    if name == "gather":
        ids = g.input("ids", [3, 5], i64)
        g.output("y", g.add(nn.GatherOp(w(g, "emb", (11, 6)), ids, axis=0)))
    elif name == "lstm":
        x = g.input("x", [4, 2, 6])
        outs = g.add_multi(nn.LstmOp(x, w(g, "lw", (1, 20, 6)), w(g, "lr", (1, 20, 5), 1), w(g, "lb", (1, 40), 2),
                                     hidden_size=5))
        g.output("y", outs[0])
    elif name == "gru":
        x = g.input("x", [4, 2, 6])
        outs = g.add_multi(nn.GruOp(x, w(g, "gw", (2, 15, 6)), w(g, "gr", (2, 15, 5), 1), hidden_size=5,
                                    direction="bidirectional", linear_before_reset=True))
        g.output("y", outs[0])
    elif name == "matmul_2d":
        g.output("y", g.add(nn.MatmulOp(g.input("a", [13, 24]), w(g, "b", (24, 10)))))
    elif name == "gemm_bias_trans_b":
        g.output("y", g.add(nn.GemmOp(g.input("a", [5, 16]), w(g, "b", (12, 16)), w(g, "c", (12,), 1),
                                      trans_b=True)))
    elif name == "conv_bias_relu":
        x = g.input("x", [2, 4, 7, 9])
        y = g.add(nn.Conv2DOp(x, w(g, "cw", (6, 4, 3, 3)), w(g, "cb", (6,), 1), strides=(2, 2), pads=(1, 1, 1, 1)))
        g.output("y", g.add(nn.ReluOp(y)))
    return g.finish("w.npz")


EXTRA = ["gather", "lstm", "gru", "matmul_2d", "gemm_bias_trans_b", "conv_bias_relu"]


def build(name):
    return build_case(name) if name in CASES else extra_case(name)


def inputs_for(module, seed):
    inputs = random_inputs(signature(find_entry(module)), seed)
    if "ids" in inputs:
        inputs["ids"] = np.array([[0, 1, -1, 5, 2]] * 3, np.int64)
    return inputs


@pytest.mark.parametrize("machine", PRESETS)
@pytest.mark.parametrize("name", sorted(CASES) + EXTRA)
def test_every_op_runs_on_every_preset(name, machine, tmp_path):
    module, store = build(name)
    weights = None
    if len(store):
        weights = str(tmp_path / "w.npz")
        store.save(weights)
    inputs = inputs_for(module, seed=5)
    expected = run(module.clone(), inputs, store)
    program = compile_module(module, machine, weights=weights)
    assert bool(program.host_ops) == (name in ON_HOST), [h.layer for h in program.host_ops]
    # Every instruction that does work names the nn op it came from (only the joins
    # between layers, signal/wait/barrier/loop, have none).
    unnamed = {i.mnemonic for instrs in program.streams.values() for i in instrs if i.origin is None}
    assert unnamed <= {"signal", "wait", "barrier", "loop", "halt"}, unnamed
    result = load(program).run(inputs, check_races=True)
    for key, want in expected.items():
        scale = float(np.abs(want).max()) or 1.0
        np.testing.assert_allclose(result.outputs[key], want, rtol=1e-2, atol=1e-2 * scale, err_msg=key)


def test_a_machine_file_compiles_and_runs(tmp_path):
    """A machine given as a file (here DLFloat16 storage) goes through the whole pipeline:
    the program keeps the file, so the final verification reads the same machine."""
    machine = tmp_path / "dlf.toml"
    machine.write_text('name = "dlf"\nbase = "rapid-1c"\nfp16_format = "dlfloat16"\n')
    module, store = build("conv_bias_relu")
    store.save(tmp_path / "w.npz")
    inputs = inputs_for(module, seed=2)
    expected = run(module.clone(), inputs, store)["y"]
    program = compile_module(module, str(machine), weights=str(tmp_path / "w.npz"))
    assert (program.machine.name, program.machine.fp16_format) == ("dlf", "dlfloat16")
    got = load(program).run(inputs, check_races=True).outputs["y"]
    # DLFloat16 keeps 9 fraction bits (IEEE half: 10): twice the rounding of fp16 storage.
    np.testing.assert_allclose(got, expected, rtol=2e-2, atol=2e-2 * float(np.abs(expected).max()))
