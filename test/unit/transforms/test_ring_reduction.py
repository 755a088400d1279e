"""A split of a reduction dim over cores (a matmul's `cores(k=P)`, a conv's `cores(ic=P)`):
partial sums per core, combined over the ring (ring_reduction.py), checked on the emulator with race checks
against the reference interpreter. Tolerance: fp16 inputs and outputs with fp32 partial
sums, as the other MPE tests (2% of the largest magnitude)."""

import json

import numpy as np
import pytest
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module
from rapid_mlir.mapping.footprint import footprint
from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.mapping.problem import conv2d, matmul
from rapid_mlir.machine import load_machine
from rapid_mlir.pipeline import compile_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load
from test_mpe_lowering import CONV_BASE, MM_BASE, check, conv_text, kernel_ir, matmul_text, pin
from rapid_mlir.dialects import rapid_mem as M


def remote_dmas(program) -> int:
    """DMAs into another core's LX (a core's own block is a local copy: `lx@self`)."""
    return sum(1 for (core, _), instrs in program.streams.items() for ins in instrs
               if ins.mnemonic == "dma.copy" and ins.operands["dst"].core not in (None, core))


@pytest.mark.parametrize("machine, cores, corelets, mkn, dense, lx, l0", [
    # k = 100 over 2 cores (50 each) in LX steps of 32 and L0 steps of 12; m, n ragged.
    ("rapid-4c", {"k": 2}, {}, (13, 100, 17), True, {"m": 5, "n": 6, "k": 32}, {"m": 3, "n": 4, "k": 12}),
    # k = 101 over 4 cores (26, 26, 26, 23: the last share its own region), no bias.
    ("rapid-4c", {"k": 4}, {}, (13, 101, 17), False, {"m": 5, "n": 6, "k": 16}, {"m": 3, "n": 4, "k": 12}),
    # A dense layer at batch 1 (the case a k split is for), n split over two corelets too.
    ("rapid-4c", {"k": 4}, {"n": 2}, (1, 203, 40), True, {"m": 1, "n": 16, "k": 32}, {"m": 1, "n": 8, "k": 16}),
    ("rapid-32c", {"k": 8}, {}, (10, 300, 12), True, {"m": 4, "n": 6, "k": 16}, {"m": 4, "n": 3, "k": 8}),
    # k = 300 over 32: shares of 10, so 30 cores get work.
    ("rapid-32c", {"k": 32}, {}, (10, 300, 12), True, {"m": 4, "n": 6, "k": 8}, {"m": 4, "n": 6, "k": 8}),
])
def test_k_split_over_cores_combines_over_the_ring(tmp_path, machine, cores, corelets, mkn, dense, lx, l0):
    m, k, n = mkn
    path = pin(tmp_path, MM_BASE, {"cores": cores, "corelets": corelets, "lx": {"b": 1} | lx, "l0": l0})
    text = matmul_text(m, k, n, dense=dense, relu=True)
    program, result = check(text, machine, path, seed=3)
    parts = -(-k // -(-k // cores["k"]))  # cores with a share of k
    owners = -(-max(m, n) // -(-max(m, n) // parts))
    assert remote_dmas(program) == parts * owners - owners  # every core to every owner but itself
    assert result.stats["bytes"]["lx_to_lx"] == parts * m * n * 4
    kernel = kernel_ir(text, machine, path)
    assert sum(isinstance(op, M.BarrierOp) for op in kernel.body.block.ops) == 2


@pytest.mark.parametrize("machine, parts, shape, conv, lx, l0", [
    # ic = 6 over 2 (3 each), 3x3 padded, bias + relu; two LX steps along oh.
    ("rapid-4c", 2, (6, 8, 8, 8, 3), {"pad": 1, "bias": True},
     {"oc": 8, "oh": 4, "ow": 8, "ic": 3}, {"oh": 1, "ow": 8, "oc": 4, "ic": 3}),
    # ic = 5 over 2 (3 and 2: the last share its own region), LX steps of ic inside a share.
    ("rapid-4c", 2, (5, 7, 7, 6, 3), {"pad": 1, "bias": True},
     {"oc": 6, "oh": 7, "ow": 7, "ic": 2}, {"oh": 1, "ow": 7, "oc": 3, "ic": 2}),
    # ic = 7 over 4 (2, 2, 2, 1), stride 2 with padding, ragged L0 rows, no bias.
    ("rapid-4c", 4, (7, 9, 9, 6, 3), {"stride": 2, "pad": 1},
     {"oc": 6, "oh": 5, "ow": 5, "ic": 2}, {"oh": 2, "ow": 5, "oc": 3, "ic": 2}),
    ("rapid-32c", 8, (8, 6, 6, 4, 3), {"pad": 1, "bias": True},
     {"oc": 4, "oh": 6, "ow": 6, "ic": 1}, {"oh": 2, "ow": 6, "oc": 4, "ic": 1}),
])
def test_ic_split_of_a_conv_combines_over_the_ring(tmp_path, machine, parts, shape, conv, lx, l0):
    c, h, w, o, k = shape
    mapping = {"cores": {"ic": parts}, "lx": {"n": 1, "g": 1, "kh": k, "kw": k} | lx, "l0": l0}
    path = pin(tmp_path, CONV_BASE, mapping)
    text = conv_text(1, c, h, w, o, k, relu=True, **conv)
    program, result = check(text, machine, path, seed=4)
    cores = -(-c // -(-c // parts))  # cores with a share of ic
    oh = (h + 2 * conv["pad"] - k) // conv.get("stride", 1) + 1
    assert result.stats["bytes"]["lx_to_lx"] == cores * o * oh * oh * 4
    owners = -(-max(o, oh * oh) // -(-max(o, oh * oh) // cores))
    assert remote_dmas(program) == cores * owners - owners
    kernel = kernel_ir(text, machine, path)
    assert sum(isinstance(op, M.BarrierOp) for op in kernel.body.block.ops) == 2


def test_ring_kernel_on_fewer_cores_than_the_program(tmp_path):
    """A k split over 2 cores followed by a layer on 4: cores 2 and 3 have no work in the
    first kernel but still meet its barriers."""
    g = GraphBuilder()
    a = g.input("a", [6, 40])
    h = g.add(nn.GemmOp(a, g.input("w", [8, 40]), g.input("c", [8]), trans_b=True), "l1")
    g.output("y", g.add(nn.MatmulOp(h, g.input("b", [8, 12])), "l2"))
    text = module_text(g.finish()[0])
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({
        "l1": MM_BASE | {"cores": {"k": 2}, "lx": {"b": 1, "m": 6, "n": 8, "k": 20}, "l0": {"m": 6, "n": 8, "k": 20}},
        "l2": MM_BASE | {"cores": {"n": 4}, "lx": {"b": 1, "m": 6, "n": 3, "k": 8}, "l0": {"m": 6, "n": 3, "k": 8}}}))
    inputs = random_inputs(signature(find_entry(parse_module(text))), 1)
    expected = run(parse_module(text), inputs)["y"]
    program = compile_module(parse_module(text), "rapid-4c", str(path))
    result = load(program).run(inputs, check_races=True)
    np.testing.assert_allclose(result.outputs["y"], expected, rtol=0,
                               atol=0.02 * (float(np.abs(expected).max()) + 1.0))
    assert remote_dmas(program) == 2


def test_footprint_counts_the_ring_buffers():
    problem = matmul("mm", 1, 10, 12, 300)
    mapping = Mapping.from_dict(MM_BASE | {"cores": {"k": 32}, "lx": {"b": 1, "m": 4, "n": 6, "k": 8},
                                            "l0": {"m": 4, "n": 6, "k": 8}})
    fp = footprint(problem, mapping, load_machine("rapid-32c"))
    # 30 cores get k; the output's longer dim n = 12 in blocks of 1.
    assert fp.tile("partial sums").bytes == 10 * 12 * 4
    assert fp.tile("ring receive").shape == (30, 10, 1)
    unsplit = footprint(problem, Mapping.from_dict(MM_BASE | {"lx": mapping.lx, "l0": mapping.l0}),
                        load_machine("rapid-32c"))
    assert fp.lx_bytes - unsplit.lx_bytes == 10 * 12 * 4 + 30 * 10 * 4


def test_footprint_counts_the_ring_buffers_of_a_conv():
    problem = conv2d("conv", (1, 7, 9, 9), (6, 7, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1)
    mapping = Mapping.from_dict(CONV_BASE | {
        "cores": {"ic": 4}, "lx": {"n": 1, "g": 1, "oc": 6, "oh": 5, "ow": 5, "ic": 2, "kh": 3, "kw": 3},
        "l0": {"oh": 2, "ow": 5, "oc": 3, "ic": 2}})
    fp = footprint(problem, mapping, load_machine("rapid-4c"))
    # The output [6][5 x 5] as a 6 x 25 matrix, cut into 4 blocks of 7 columns.
    assert fp.tile("partial sums").shape == (6, 25)
    assert fp.tile("ring receive").shape == (4, 6, 7)


def test_ic_split_of_a_grouped_conv_is_reported(tmp_path):
    mapping = {"cores": {"ic": 2}, "lx": {"n": 1, "g": 1, "oc": 4, "oh": 6, "ow": 6, "ic": 2, "kh": 3, "kw": 3},
               "l0": {"oh": 1, "ow": 6, "oc": 4, "ic": 2}}
    with pytest.raises(PassFailedException, match=r"cores\(ic=2\) with groups of 2: the ring reduction of a "
                                                  r"convolution is lowered for n = 1 and groups = 1 only"):
        compile_module(parse_module(conv_text(1, 8, 6, 6, 8, 3, pad=1, groups=2)), "rapid-4c",
                       pin(tmp_path, CONV_BASE, mapping))
