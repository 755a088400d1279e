"""Data movement on the device: concat, split, transpose and pad become DMA kernels
(dma_layers.py, dma_lowering.py), compiled through every stage and run on the emulator
(race and deadlock checks on) against the reference interpreter, on every machine preset:
odd sizes, ranks 2 to 4, batch 2, every transpose permutation of ranks 2 to 4, concat of
two and three inputs and split into uneven parts on every axis, every pad mode with pads
on several axes; chains with matrix and SFU layers; pinned mappings (loops with ragged
and double-buffered tiles, two corelets, a core split along the concat axis); what is
reported and what stays on the host.

Tolerance. The reference runs on the inputs as the device holds them (rounded to f16).
A DMA copies bits, so a pure data-movement result is exact: compared with
`assert_array_equal` against the reference rounded to f16 (a no-op for moved elements; a
constant pad value that f16 cannot represent, 0.1 below, is stored as its f16 rounding,
as every device tensor is). Chains through convolutions and matrix products accumulate
in fp32 and round every intermediate tensor to f16: 1e-2 of the output's scale there.
"""

import itertools
import json

import numpy as np
import pytest
from xdsl.dialects.builtin import i64
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module
from rapid_mlir.machine import load_machine
from rapid_mlir.mapping.fixed import fixed_mapping
from rapid_mlir.mapping.footprint import check_fits
from rapid_mlir.pipeline import compile_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load
from rapid_mlir.transforms.dma_layers import copy_layout

MACHINES = ["rapid-1c", "rapid-4c", "rapid-32c"]
RNG = np.random.default_rng(11)


def text_of(build) -> str:
    g = GraphBuilder(inline_limit=1 << 20)  # weights inline: no weight file needed
    build(g)
    return module_text(g.finish()[0])


def check(build, machine, exact=True, mapping=None, tmp_path=None, seed=0):
    """Compiles `build`'s graph for `machine` (pinning `mapping`: layer -> JSON object),
    checks that nothing runs on the host, runs it and compares every output."""
    text = text_of(build)
    path = None
    if mapping is not None:
        path = tmp_path / "layers.json"
        path.write_text(json.dumps(mapping))
    program = compile_module(parse_module(text), machine, str(path) if path else None)
    assert not program.host_ops, [h.layer for h in program.host_ops]
    inputs = random_inputs(signature(find_entry(parse_module(text))), seed)
    result = load(program).run(inputs, check_races=True)
    expected = run(parse_module(text), result.inputs)
    for name, want in expected.items():
        if exact:
            np.testing.assert_array_equal(result.outputs[name], want.astype(np.float16).astype(np.float32),
                                          err_msg=f"output {name} on {machine}")
        else:
            scale = float(np.abs(want).max())
            np.testing.assert_allclose(result.outputs[name], want, rtol=1e-2, atol=1e-2 * scale,
                                       err_msg=f"output {name} on {machine}")
    return program, result


def instructions(program, mnemonic: str) -> int:
    return sum(1 for instrs in program.streams.values() for i in instrs if i.mnemonic == mnemonic)


# -- the layouts (no IR below the op) ----------------------------------------------------------


def test_layouts_merge_contiguous_dims_and_cut_pieces():
    g = GraphBuilder()
    x = g.input("x", [2, 4, 7, 9])
    concat = copy_layout(nn.ConcatOp([x, g.input("y", [2, 3, 7, 9])], axis=1))
    assert concat.dims == {"d0": 2, "d1_2_3": 441}      # the axis merges with the dims inside it
    assert [(t.start, t.size, t.src, t.dst) for t in concat.transfers] == [
        ((0, 0), (2, 252), 0, 2), ((0, 252), (2, 189), 1, 2)]
    assert concat.grain == {"d0": 2, "d1_2_3": 63}
    nhwc = copy_layout(nn.TransposeOp(x, perm=[0, 2, 3, 1]))
    assert nhwc.dims == {"d0": 2, "d1_2": 63, "d3": 4}  # h, w stay adjacent: one dim
    assert nhwc.transfers[0].src_strides == (252, 1, 63)
    assert copy_layout(nn.TransposeOp(g.input("o", [1, 5, 1, 6]), perm=[2, 1, 0, 3])).dims == {"d1_2_3": 30}
    edge = copy_layout(nn.PadOp(x, [0, 0, 1, 0, 0, 0, 0, 2], "edge"))
    assert edge.dims == {"d0_1": 8, "d2": 8, "d3": 11} and len(edge.transfers) == 4
    const = copy_layout(nn.PadOp(x, [0, 1, 0, 0, 0, 2, 0, 0], "constant", 3.0))
    assert const.dims == {"d0": 2, "d1_2_3": 441} and const.padval == 3.0   # a padded dim takes the rows inside it
    assert [t.src for t in const.transfers] == [None, None, 0]              # two fills, one copy
    assert copy_layout(nn.ConcatOp([g.input("i", [3], i64)] * 2, axis=0)) is None  # integers: the host


def test_fixed_mapping_splits_every_piece_evenly():
    g = GraphBuilder()
    x, y = g.input("x", [1, 3, 8, 8]), g.input("y", [1, 5, 8, 8])
    for machine in ("rapid-4c", "rapid-32c"):
        m = load_machine(machine)
        for op in (nn.ConcatOp([x, y], axis=1), nn.ConcatOp([x, y, x], axis=1), nn.PadOp(x, [0, 0, 1, 1, 0, 0, 1, 1]),
                   nn.SplitOp(y, axis=3, sizes=[3, 5]), nn.TransposeOp(y, perm=[0, 2, 3, 1])):
            layout = copy_layout(op)
            problem = layout.problem("p")
            mapping = fixed_mapping(problem, m)
            check_fits(problem, mapping, m)
            assert not mapping.corelets and mapping.double_buffer
            for d, parts in mapping.cores.items():
                assert layout.grain[d] % parts == 0, (op.name, mapping.to_text())


# -- every op on every preset --------------------------------------------------------------------


def transposes(g):
    for shape in ([2, 3, 5, 7], [3, 5, 7], [5, 9]):
        x = g.input("x" + "x".join(map(str, shape)), shape)
        for perm in itertools.permutations(range(len(shape))):
            g.output("t" + "".join(map(str, perm)) + f"_{len(shape)}", g.add(nn.TransposeOp(x, perm=list(perm))))


def concats_and_splits(g):
    for shape in ([2, 3, 5, 7], [3, 5, 7], [5, 9]):
        rank = len(shape)
        x = g.input(f"x{rank}", shape)
        for axis in range(rank):
            other = list(shape)
            other[axis] = 2
            third = list(shape)
            third[axis] = 1
            y, z = g.input(f"y{rank}_{axis}", other), g.input(f"z{rank}_{axis}", third)
            g.output(f"cat2_{rank}_{axis}", g.add(nn.ConcatOp([x, y], axis=axis)))
            g.output(f"cat3_{rank}_{axis}", g.add(nn.ConcatOp([y, x, z], axis=axis - rank)))
            n = shape[axis]
            sizes = [1, n - 1] if n < 5 else [1, n - 3, 2]
            for j, part in enumerate(g.add_multi(nn.SplitOp(x, axis=axis, sizes=sizes))):
                g.output(f"split_{rank}_{axis}_{j}", part)


def pads(g):
    x4, x3, x2 = g.input("x4", [2, 3, 5, 7]), g.input("x3", [3, 5, 7]), g.input("x2", [5, 9])
    for mode in ("constant", "reflect", "edge"):
        g.output(f"{mode}4", g.add(nn.PadOp(x4, [1, 0, 2, 3, 0, 2, 1, 2], mode, 1.5)))      # every axis
        g.output(f"{mode}4hw", g.add(nn.PadOp(x4, [0, 0, 1, 1, 0, 0, 1, 1], mode, -2.25)))  # spatial only
        g.output(f"{mode}3", g.add(nn.PadOp(x3, [0, 4, 0, 2, 0, 6], mode)))
        g.output(f"{mode}2", g.add(nn.PadOp(x2, [3, 0, 4, 8], mode, 0.1)))
    g.output("nothing", g.add(nn.PadOp(x2, [0, 0, 0, 0], "reflect")))


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("build", [transposes, concats_and_splits, pads])
def test_every_data_movement_op_is_exact(build, machine):
    check(build, machine)


# -- chains -------------------------------------------------------------------------------------


def weight(shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def conv_concat_conv(g):
    """Inception-style: two convolutions of one input concatenated along the channels
    (batch 2), then a convolution of the concatenation."""
    x = g.input("x", [2, 3, 9, 11])
    a = g.add(nn.Conv2DOp(x, g.constant("wa", weight((4, 3, 3, 3))), pads=(1, 1, 1, 1)), "a")
    b = g.add(nn.ReluOp(g.add(nn.Conv2DOp(x, g.constant("wb", weight((6, 3, 1, 1)))), "b")))
    cat = g.add(nn.ConcatOp([a, b], axis=1), "cat")
    g.output("y", g.add(nn.Conv2DOp(cat, g.constant("wc", weight((5, 10, 3, 3))), pads=(1, 1, 1, 1)), "c"))


def split_ops_concat(g):
    """split -> an elementwise op per part -> concat in another order; a part also an
    output; a relu of a transpose stays a layer of its own (no epilogue on a DMA kernel)."""
    x = g.input("x", [2, 12, 5])
    lo, mid, hi = g.add_multi(nn.SplitOp(x, axis=1, sizes=[5, 3, 4]), "parts")
    s = g.add(nn.SigmoidOp(mid), "sig")
    r = g.add(nn.AddOp(hi, g.add(nn.ReluOp(hi), "relu")), "add")
    g.output("y", g.add(nn.ConcatOp([r, s, lo], axis=1), "cat"))
    g.output("lo", lo)
    g.output("z", g.add(nn.ReluOp(g.add(nn.TransposeOp(lo, perm=[2, 0, 1]), "t")), "relu_t"))


def transpose_matmul_pad(g):
    """transpose -> matmul, a reflect pad of the product, a transposed view through reshapes."""
    a = g.input("a", [24, 13])
    t = g.add(nn.TransposeOp(a, perm=[1, 0]), "t")
    m = g.add(nn.MatmulOp(t, g.constant("b", weight((24, 16)))), "mm")
    g.output("p", g.add(nn.PadOp(m, [2, 1, 3, 2], "reflect"), "pad"))
    r = g.add(nn.ReshapeOp(m, [13, 4, 4]), "rs")
    g.output("f", g.add(nn.FlattenOp(g.add(nn.TransposeOp(r, perm=[2, 0, 1]), "t2"), axis=1), "flat"))


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("build", [conv_concat_conv, split_ops_concat, transpose_matmul_pad])
def test_chains(build, machine):
    check(build, machine, exact=False)


def outermost_splits(g):
    """Splits whose parts are runs of consecutive elements (every dim before the axis 1):
    views of the input, no kernel (dram_views.py); one through a reshape; a part that is
    a function result keeps its split's kernel."""
    x = g.input("x", [6, 4])
    a, b, c = g.add_multi(nn.SplitOp(x, axis=0, sizes=[1, 3, 2]), "rows")
    g.output("ra", g.add(nn.ReluOp(a), "ra"))
    g.output("sb", g.add(nn.SigmoidOp(g.add(nn.ReshapeOp(b, [4, 3]), "rb")), "sb"))
    g.output("cc", g.add(nn.AddOp(c, c), "cc"))
    y = g.input("y", [1, 12, 5])
    p, q = g.add_multi(nn.SplitOp(y, axis=1, sizes=[5, 7]), "cols")
    g.output("rp", g.add(nn.ReluOp(p), "rp"))
    g.output("q", q)


@pytest.mark.parametrize("machine", MACHINES)
def test_outermost_split_parts_are_views(machine):
    program, _ = check(outermost_splits, machine, exact=False)
    layers = {i.origin for instrs in program.streams.values() for i in instrs}
    assert "rows" not in layers and {"ra", "sb", "cc", "cols", "rp"} <= layers


# -- mappings -----------------------------------------------------------------------------------


def big_transpose(g):
    g.output("y", g.add(nn.TransposeOp(g.input("x", [2, 9, 10, 11]), perm=[0, 2, 3, 1]), "t"))


def pinned(lx, cores=None, corelets=None, double_buffer=True, order=("d0", "d1_2", "d3")):
    return {"t": {"cores": cores or {}, "corelets": corelets or {}, "rows": [], "cols": [], "simd": [],
                  "order": list(order), "lx": lx, "l0": {}, "double_buffer": double_buffer}}


@pytest.mark.parametrize("mapping", [
    pinned({"d0": 1, "d1_2": 16, "d3": 4}),                                  # 2 x 7 steps, a ragged one
    pinned({"d0": 1, "d1_2": 16, "d3": 4}, double_buffer=False),
    pinned({"d0": 1, "d1_2": 7, "d3": 3}, cores={"d1_2": 2}, order=("d3", "d0", "d1_2")),  # ragged d3 too
    pinned({"d0": 1, "d1_2": 9, "d3": 9}, cores={"d0": 2}, corelets={"d1_2": 2}),  # uneven corelet shares
], ids=["double-buffered", "single-buffered", "order-and-cores", "two-corelets"])
def test_pinned_mappings_loop_in_hardware(mapping, tmp_path):
    program, _ = check(big_transpose, "rapid-4c", mapping=mapping, tmp_path=tmp_path)
    assert instructions(program, "loop") > 0
    steps = 2 * 110 * 9 // 64          # at least this many LX tiles: not one instruction per tile
    assert instructions(program, "dma.copy") < steps * 2
    assert not instructions(program, "wait")                     # one queue per lane: no semaphores


def test_a_core_split_along_the_concat_axis_shares_every_piece(tmp_path):
    def cat(g):
        x, y = g.input("x", [1, 4, 6, 5]), g.input("y", [1, 7, 6, 5])
        g.output("xy", g.add(nn.ConcatOp([x, y], axis=1), "cat"))

    # The axis merges with h and w: pieces of 120 and 210 elements, 3 cores take 40 and 70 of each.
    mapping = {"cat": {"cores": {"d1_2_3": 3}, "corelets": {}, "rows": [], "cols": [], "simd": [],
                       "order": ["d1_2_3"], "lx": {"d1_2_3": 16}, "l0": {}, "double_buffer": True}}
    program, _ = check(cat, "rapid-4c", mapping=mapping, tmp_path=tmp_path)
    assert {core for core, _ in program.streams} == {0, 1, 2}
    mapping["cat"]["cores"] = {"d1_2_3": 4}
    (tmp_path / "layers.json").write_text(json.dumps(mapping))
    with pytest.raises(PassFailedException, match=r"convert-nn-to-tile: layer 'cat': cores\(d1_2_3=4\) does not "
                                                  r"divide the pieces of the tensor along d1_2_3 \(their extents "
                                                  r"are multiples of 30\)"):
        compile_module(parse_module(text_of(cat)), "rapid-4c", str(tmp_path / "layers.json"))


def test_device_beats_the_host_and_needs_no_semaphores():
    def layers(g):
        x = g.input("x", [1, 32, 28, 28])
        g.output("t", g.add(nn.TransposeOp(x, perm=[0, 2, 3, 1]), "t"))
        g.output("p", g.add(nn.PadOp(x, [0, 0, 1, 1, 0, 0, 1, 1], "reflect"), "p"))
        g.output("c", g.add(nn.ConcatOp([x, x], axis=1), "c"))

    program, device = check(layers, "rapid-4c")
    host_text = text_of(layers).replace('{nn.name = "t"}', '{nn.name = "t", nn.host}').replace(
        '{nn.name = "p"}', '{nn.name = "p", nn.host}').replace('{nn.name = "c"}', '{nn.name = "c", nn.host}')
    host_program = compile_module(parse_module(host_text), "rapid-4c")
    assert len(host_program.host_ops) == 3
    host = load(host_program).run(device.inputs)
    assert device.cycles * 3 < host.cycles
    kernel_sync = instructions(program, "wait") + instructions(program, "signal")
    assert kernel_sync <= 2 * 3 * 4 * 2          # the joins between the three kernels only


# -- what the host keeps, what is reported ------------------------------------------------------


def test_integer_tensors_stay_on_the_host():
    def ids(g):
        a, b = g.input("a", [2, 3], i64), g.input("b", [2, 2], i64)
        g.output("y", g.add(nn.ConcatOp([a, b], axis=1), "cat"))

    program = compile_module(parse_module(text_of(ids)), "rapid-1c")
    assert [h.layer for h in program.host_ops] == ["cat"]


def test_a_mapping_that_uses_the_mpe_is_reported(tmp_path):
    mapping = pinned({"d0": 1, "d1_2": 16, "d3": 4})
    mapping["t"]["rows"] = ["d0"]
    (tmp_path / "layers.json").write_text(json.dumps(mapping))
    with pytest.raises(PassFailedException, match="layer 't': a copy layer's mapping has no rows, cols, simd or l0"):
        compile_module(parse_module(text_of(big_transpose)), "rapid-1c", str(tmp_path / "layers.json"))
