"""MPE kernels under pinned mappings that the fixed strategy would not choose: ragged tiles
at every level (uneven core and corelet shares, ragged LX and L0 tiles), several LX steps
along the output rows with the image border padded on both sides, partial sums kept in
ACC across LX reduction steps (`lx(ic) < ic`, `lx(k) < K`), and loop nests deeper than
the machine's hardware loops. Each case is compiled, run on the emulator with race and
deadlock checks, and compared with the reference interpreter; the structure the case is
about is checked in the rapid_mem IR or the program.

Tolerance: fp16 inputs and outputs, fp32 accumulation (see test_convert_tile_to_mem.py).
"""

import json

import numpy as np
import pytest
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import make_context, nn
from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module
from rapid_mlir.pipeline import compile_module, passes
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load

PRESETS = ["rapid-1c", "rapid-4c", "rapid-32c"]
CONV_BASE = {"rows": ["oh", "ow"], "cols": ["oc"], "simd": ["ic"],
             "order": ["n", "g", "oc", "oh", "ow", "ic", "kh", "kw"], "cores": {}, "corelets": {},
             "double_buffer": True}
MM_BASE = {"rows": ["m"], "cols": ["n"], "simd": ["k"], "order": ["b", "m", "n", "k"], "cores": {},
           "corelets": {}, "double_buffer": True}


def conv_text(n, c, h, w, o, k, stride=1, pad=0, dilation=1, groups=1, bias=False, relu=False) -> str:
    g = GraphBuilder()
    x, wt = g.input("x", [n, c, h, w]), g.input("w", [o, c // groups, k, k])
    b = g.input("b", [o]) if bias else None
    y = g.add(nn.Conv2DOp(x, wt, b, strides=(stride, stride), pads=(pad,) * 4, dilations=(dilation,) * 2,
                          groups=groups), "layer")
    g.output("y", g.add(nn.ReluOp(y)) if relu else y)
    return module_text(g.finish()[0])


def matmul_text(m, k, n, dense=False, relu=False) -> str:
    g = GraphBuilder()
    a = g.input("a", [m, k])
    if dense:  # nn.gemm with a [n][k] weight (trans_b) and a bias
        y = g.add(nn.GemmOp(a, g.input("w", [n, k]), g.input("c", [n]), trans_b=True), "layer")
    else:
        y = g.add(nn.MatmulOp(a, g.input("b", [k, n])), "layer")
    g.output("y", g.add(nn.ReluOp(y)) if relu else y)
    return module_text(g.finish()[0])


def pin(tmp_path, base, mapping) -> str:
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"layer": base | mapping}))
    return str(path)


def check(text, machine, mapping_file, seed=0):
    """Compile, run with race checks and compare; the program and the run's result."""
    inputs = random_inputs(signature(find_entry(parse_module(text))), seed)
    expected = run(parse_module(text), inputs)["y"]
    program = compile_module(parse_module(text), machine, mapping_file)
    result = load(program).run(inputs, check_races=True)
    scale = float(np.abs(expected).max()) + 1.0
    np.testing.assert_allclose(result.outputs["y"], expected, rtol=0, atol=0.02 * scale)
    return program, result


def kernel_ir(text, machine, mapping_file, last="convert-tile-to-mem") -> M.KernelOp:
    """The rapid_mem kernel (after convert-tile-to-mem, or the pass named `last`)."""
    module = parse_module(text)
    ctx = make_context()
    for p in passes(machine, mapping_file):
        p.apply(ctx, module)
        if p.name == last:
            break
    return next(op for op in module.walk() if isinstance(op, M.KernelOp))


def input_pads(kernel) -> list[tuple[int, int]]:
    """The row padding of every load of the conv input (DMAs from the kernel's first buffer)."""
    x = kernel.body.block.args[0]
    return [dma.src_access.pad_pairs[1] if dma.src_access.pad_pairs else (0, 0)
            for dma in kernel.walk() if isinstance(dma, M.DmaOp) and dma.src is x]


def loop_depth(program) -> int:
    """The deepest nest of hardware loops in any stream."""
    deepest = 0
    for instrs in program.streams.values():
        ends: list[int] = []
        for pc, ins in enumerate(instrs):
            ends = [e for e in ends if pc < e]
            if ins.mnemonic == "loop":
                ends.append(pc + 1 + ins.operands["len"])
                deepest = max(deepest, len(ends))
    return deepest


# Ragged everywhere -------------------------------------------------------------------------


@pytest.mark.parametrize("machine", PRESETS)
def test_ragged_tiles_at_every_level(tmp_path, machine):
    """oc = 7 over 3 cores (3, 3, 1), oh = 9 over 2 corelets (5, 4); LX tiles of 2 oc, 3 rows,
    4 columns and 4 of the 6 input channels, and L0 tiles of 2 rows, 3 columns and 3 input
    channels divide none of them."""
    mapping = {"cores": {"oc": 3} if machine != "rapid-1c" else {}, "corelets": {"oh": 2},
               "lx": {"n": 1, "g": 1, "oc": 2, "oh": 3, "ow": 4, "ic": 4, "kh": 1, "kw": 1},
               "l0": {"oh": 2, "ow": 3, "oc": 2, "ic": 3}}
    path = pin(tmp_path, CONV_BASE, mapping)
    text = conv_text(1, 6, 9, 9, 7, 1, bias=True, relu=True)
    check(text, machine, path)
    if machine != "rapid-1c":  # the last core's share (one channel) has its own regions
        kernel = kernel_ir(text, machine, path)
        ranges = sorted({(c.index.value.data, c.core_range()) for c in kernel.body.block.ops})
        assert ranges == [(0, (0, 1)), (0, (2, 2)), (1, (0, 1)), (1, (2, 2))]


@pytest.mark.parametrize("machine", PRESETS)
def test_ragged_dense_layer(tmp_path, machine):
    """A dense layer (gemm, [n][k] weight, bias, relu) with uneven shares and ragged tiles."""
    cores = {"n": 3} if machine != "rapid-1c" else {}
    mapping = {"cores": cores, "corelets": {"m": 2}, "lx": {"b": 1, "m": 4, "n": 5, "k": 31},
               "l0": {"m": 3, "n": 2, "k": 13}}
    check(matmul_text(13, 31, 17, dense=True, relu=True), machine, pin(tmp_path, MM_BASE, mapping))


# LX steps along the output rows ----------------------------------------------------------


@pytest.mark.parametrize("machine", PRESETS)
@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 2)])
def test_lx_row_steps_pad_both_image_borders(tmp_path, machine, stride, dilation):
    """17 rows of a 5x5 kernel with 2 rows of padding, 2 output rows per LX step: the first
    step's window is padded at the top, the last ones' at the bottom (their own DMA pads,
    peeled), the steps between run in a loop without padding."""
    text = conv_text(1, 4, 17, 17, 8, 5, stride=stride, pad=2, dilation=dilation)
    oh = (17 + 4 - dilation * 4 - 1) // stride + 1  # 17 or 7
    rows = 2 if stride == 1 else 1                    # 8 x 2 and 1, or 7 x 1 per step
    mapping = {"cores": {"oc": 2} if machine != "rapid-1c" else {},
               "lx": {"n": 1, "g": 1, "oc": 4, "oh": rows, "ow": oh, "ic": 4, "kh": 5, "kw": 5},
               "l0": {"oh": min(rows, 2), "ow": oh, "oc": 4, "ic": 4}}
    path = pin(tmp_path, CONV_BASE, mapping)
    program, _ = check(text, machine, path)
    pads = input_pads(kernel_ir(text, machine, path))
    assert pads[0] == (2, 0) and pads[-1][0] == 0 and pads[-1][1] > 0  # top, then bottom
    assert (0, 0) in pads                                               # unpadded steps
    assert any(i.mnemonic == "loop" and i.operands["count"] > 1 for i in program.streams[(0, "dma0")])


def test_row_split_over_cores_pads_the_first_and_last_cores(tmp_path):
    """oh = 13 over 5 cores (3 rows each, 1 for the last): the first core's window is padded
    at the top, the last core's at the bottom, so they run their own regions; the three
    cores between share one (SPMD)."""
    text = conv_text(1, 3, 13, 13, 8, 3, pad=1, relu=True)
    mapping = {"cores": {"oh": 5}, "lx": {"n": 1, "g": 1, "oc": 8, "oh": 3, "ow": 13, "ic": 3, "kh": 3, "kw": 3},
               "l0": {"oh": 3, "ow": 13, "oc": 8, "ic": 3}}
    path = pin(tmp_path, CONV_BASE, mapping)
    check(text, "rapid-32c", path)
    kernel = kernel_ir(text, "rapid-32c", path)
    assert kernel.cores.value.data == 5
    assert [c.core_range() for c in kernel.body.block.ops] == [(0, 0), (1, 3), (4, 4)]
    assert input_pads(kernel) == [(1, 0), (0, 0), (0, 1)]


# Partial sums across LX reduction steps ----------------------------------------------------


@pytest.mark.parametrize("machine", PRESETS)
def test_partial_sums_stay_in_acc_across_lx_ic_steps(tmp_path, machine):
    """40 input channels in LX steps of 16 (16, 16, 8): every L0 tile of the LX output tile
    has its own ACC slot; the first step overwrites it, the last one takes it out."""
    text = conv_text(1, 40, 7, 7, 12, 3, pad=1, bias=True)
    mapping = {"corelets": {"oh": 2}, "lx": {"n": 1, "g": 1, "oc": 12, "oh": 4, "ow": 7, "ic": 16, "kh": 3, "kw": 3},
               "l0": {"oh": 2, "ow": 7, "oc": 8, "ic": 8}}
    path = pin(tmp_path, CONV_BASE, mapping)
    program, _ = check(text, machine, path, seed=2)
    kernel = kernel_ir(text, machine, path)
    accs = [a.buffer.type.get_shape() for a in kernel.walk() if isinstance(a, M.AllocOp)
            and a.buffer.type.space.data is M.MemSpace.ACC]
    assert accs[0] == (4, 2, 7, 8)  # 2 x 2 L0 tiles of 2 x 7 pixels x 8 channels
    mnemonics = [i.mnemonic for i in program.streams[(0, "mpe0")]]
    assert 0 < mnemonics.count("mpe.mm") < mnemonics.count("mpe.mma")


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c"])
def test_rotated_row_steps_cross_padded_runs(tmp_path, machine):
    """Two images of 17 rows (3x3, padding 1) in LX steps of 4 rows (4, 4, 4, 4, 1), each
    reducing 32 input channels in two double-buffered LX steps, two corelets splitting oc:
    the row level is rotated (mapping/rotation.py), so each step's last reduction step is
    preceded by the next row step's first loads, from the padded first step into the loop
    of the middle ones (two iterations, the third peeled) and on into the padded, ragged
    last one; the second image starts with the prologue again. Right on the emulator,
    race-checked."""
    from rapid_mlir.cost.schedule import _Builder, corelet_regions
    from rapid_mlir.machine import load_machine
    from rapid_mlir.mapping.mapping import Mapping
    from rapid_mlir.mapping.problem import conv2d

    mapping = {"corelets": {"oc": 2}, "lx": {"n": 1, "g": 1, "oc": 8, "oh": 4, "ow": 17, "ic": 16, "kh": 3, "kw": 3},
               "l0": {"oh": 2, "ow": 17, "oc": 8, "ic": 16}}
    path = pin(tmp_path, CONV_BASE, mapping)
    text = conv_text(2, 32, 17, 17, 16, 3, pad=1, bias=True, relu=True)
    check(text, machine, path, seed=3)
    problem = conv2d("layer", (2, 32, 17, 17), (16, 32, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    _, _, origin, sizes = corelet_regions(problem, Mapping.from_dict(CONV_BASE | mapping))[0]
    builder = _Builder(problem, Mapping.from_dict(CONV_BASE | mapping), load_machine(machine), origin, sizes,
                       ("dma0", "dma0"), True, True)
    assert builder.levels == ["n", "oh", "ic"] and builder.rotate == 1
    # The input loads each corelet's code holds (the image loop's body), with the row pads
    # of their windows: the prologue (step 0), step 0's second reduction step and step 1's
    # first; the loop's body: its second and the next step's first; the peeled step 3: its
    # second and step 4's first; step 4: its second.
    per_corelet = [(1, 0), (1, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 1), (0, 1)]
    assert input_pads(kernel_ir(text, machine, path)) == 2 * per_corelet


@pytest.mark.parametrize("machine", PRESETS)
def test_matmul_partial_sums_across_lx_k_steps(tmp_path, machine):
    """k = 100 in LX steps of 32 (32, 32, 32, 4) and L0 steps of 12; m and n ragged too."""
    mapping = {"cores": {"n": 2} if machine != "rapid-1c" else {}, "corelets": {"m": 2},
               "lx": {"b": 1, "m": 5, "n": 6, "k": 32}, "l0": {"m": 3, "n": 4, "k": 12}}
    check(matmul_text(13, 100, 17, relu=True), machine, pin(tmp_path, MM_BASE, mapping), seed=4)


# Uneven splits, loop depth -----------------------------------------------------------------


@pytest.mark.parametrize("machine, split, tile", [("rapid-4c", {"n": 4}, 3), ("rapid-4c", {"m": 3}, 3),
                                                  ("rapid-32c", {"m": 5}, 2)])
def test_uneven_core_splits(tmp_path, machine, split, tile):
    """A core split that does not divide its dim: the last core's smaller share is its own
    region (`rapid_mem.corelet ... cores L to L`); the others run one SPMD region."""
    mapping = {"cores": split, "lx": {"b": 1, "m": tile, "n": 3, "k": 16}, "l0": {"m": tile, "n": 3, "k": 16}}
    path = pin(tmp_path, MM_BASE, mapping)
    text = matmul_text(7, 16, 10)
    check(text, machine, path)
    kernel = kernel_ir(text, machine, path, last="rapid-mem-allocate")
    cores = kernel.cores.value.data
    assert [c.core_range() for c in kernel.body.block.ops] == [(0, cores - 2), (cores - 1, cores - 1)]
    # The regions run on different cores: each packs its LX buffers from 0.
    firsts = [next(a for a in c.walk() if isinstance(a, M.AllocOp)) for c in kernel.body.block.ops]
    assert [a.offset.value.data for a in firsts] == [0, 0]


def test_deep_loop_nests_unroll_the_shortest_loops(tmp_path):
    """Batch 3 and LX steps along oc and oh with L0 loops over rows and channels inside:
    five levels of loops, one more than the machine's 4 nested hardware loops, so the level
    with the fewest iterations is unrolled."""
    text = conv_text(3, 4, 8, 8, 8, 1)
    mapping = {"lx": {"n": 1, "g": 1, "oc": 4, "oh": 4, "ow": 8, "ic": 4, "kh": 1, "kw": 1},
               "l0": {"oh": 2, "ow": 8, "oc": 2, "ic": 4}, "double_buffer": False}
    program, _ = check(text, "rapid-1c", pin(tmp_path, CONV_BASE, mapping), seed=1)
    assert loop_depth(program) == 4


# What is still reported ----------------------------------------------------------------------


@pytest.mark.parametrize("mapping, message", [
    ({"cores": {"ic": 2}, "lx": {"n": 1, "g": 1, "oc": 4, "oh": 8, "ow": 8, "ic": 2, "kh": 3, "kw": 3},
      "l0": {"oh": 1, "ow": 8, "oc": 4, "ic": 2}},
     r"cores\(ic=2\) with a batch of 2: the ring reduction of a convolution is lowered for n = 1"),
    ({"corelets": {"ic": 2}, "lx": {"n": 1, "g": 1, "oc": 4, "oh": 8, "ow": 8, "ic": 2, "kh": 3, "kw": 3},
      "l0": {"oh": 1, "ow": 8, "oc": 4, "ic": 2}},
     r"corelets\(ic=2\) splits a reduction dim; combining partial sums .* \(a ring reduction\) is not lowered yet"),
    ({"cores": {"oc": 2, "oh": 2}, "lx": {"n": 1, "g": 1, "oc": 4, "oh": 4, "ow": 8, "ic": 4, "kh": 3, "kw": 3}},
     r"cores\(oc=2, oh=2\) splits more than one dim"),
    ({"lx": {"n": 1, "g": 1, "oc": 4, "oh": 8, "ow": 8, "ic": 4, "kh": 1, "kw": 3}},
     r"lx\(kh=1\) must hold all 3 \(tiling the kernel window in LX is not lowered yet\)"),
    ({"lx": {"n": 2, "g": 1, "oc": 4, "oh": 8, "ow": 8, "ic": 4, "kh": 3, "kw": 3}},
     r"lx\(n=2\): LX tiles of more than one n are not lowered yet"),
    ({"order": ["n", "g", "ic", "oc", "oh", "ow", "kh", "kw"],
      "lx": {"n": 1, "g": 1, "oc": 4, "oh": 4, "ow": 8, "ic": 2, "kh": 3, "kw": 3},
      "l0": {"oh": 1, "ow": 8, "oc": 4, "ic": 2}},
     r"order\(...\) puts the reduction dim ic \(lx\(ic=2\) < 4\) outside oc"),
])
def test_what_is_not_lowered_yet_is_reported(tmp_path, mapping, message):
    full = {"lx": {"n": 1, "g": 1, "oc": 4, "oh": 8, "ow": 8, "ic": 4, "kh": 3, "kw": 3},
            "l0": {"oh": 1, "ow": 8, "oc": 4, "ic": 4}} | mapping
    with pytest.raises(PassFailedException, match=message):
        compile_module(parse_module(conv_text(2, 4, 8, 8, 8, 3, pad=1)), "rapid-4c",
                       pin(tmp_path, CONV_BASE, full))
