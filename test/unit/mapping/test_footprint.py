"""footprint / check_fits: hand-computed byte counts and every error message."""

from dataclasses import replace

import pytest

from rapid_mlir.machine import KiB, PRESETS
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.footprint import check_fits, footprint
from rapid_mlir.mapping.mapping import Mapping, MappingError

M1 = PRESETS["rapid-1c"]
M4 = PRESETS["rapid-4c"]

# 1x4x11x11 input, 8x4x3x3 weight, stride 2, dilation 2, pad 2: a 6x6 output.
CONV = P.conv2d("small", (1, 4, 11, 11), (8, 4, 3, 3), (2, 2), (2, 2, 2, 2), (2, 2), 1)
CONV_MAP = Mapping(
    rows=("oh", "ow"), cols=("oc",), simd=("ic",),
    order=("n", "g", "oc", "oh", "ow", "ic", "kh", "kw"),
    lx={"n": 1, "g": 1, "oc": 8, "oh": 3, "ow": 6, "ic": 4, "kh": 3, "kw": 3},
    l0={"oh": 1, "ow": 6, "oc": 8, "ic": 4}, double_buffer=True)

MM = P.matmul("mm", 1, 20, 24, 40)
MM_MAP = Mapping(rows=("m",), cols=("n",), simd=("k",), order=("b", "m", "n", "k"),
                 lx={"b": 1, "m": 10, "n": 24, "k": 40}, l0={"m": 10, "n": 8, "k": 16})


def _lx(mapping, **lx):
    return replace(mapping, lx={**mapping.lx, **lx})


def test_conv_problem_shape():
    assert CONV.dims == {"n": 1, "g": 1, "oc": 8, "oh": 6, "ow": 6, "ic": 4, "kh": 3, "kw": 3}


def test_conv_halo_stride_dilation_double_buffered():
    CONV_MAP.validate(CONV)
    fp = check_fits(CONV, CONV_MAP, M1)
    # input rows (3 - 1) * 2 + (3 - 1) * 2 + 1 = 9, columns (6 - 1) * 2 + 4 + 1 = 15
    assert fp.tile("input").shape == (1, 1, 4, 9, 15)
    # input: 4 * 9 * 15 * 2 = 1080 bytes, changes with oh (2 steps) -> 2 buffers
    # weight: 8 * 4 * 3 * 3 * 2 = 576 bytes, loaded once -> 1 buffer
    # output: 8 * 3 * 6 * 2 = 288 bytes, one buffer (each L0 tile is stored from its place)
    assert fp.lx_operands == {"input": 2160, "weight": 576, "output": 288}
    assert [(t.copies, t.buffers) for t in fp.tiles] == [(1, 2), (1, 1), (1, 1)]
    assert fp.lx_bytes == 3024
    # m = 1 * 6, n = 8, k = 4
    assert (fp.mpe_m, fp.mpe_n, fp.mpe_k) == (6, 8, 4)
    assert fp.l0_a_bytes == 6 * 4 * 2 == 48
    assert fp.l0_b_bytes == 4 * 8 * 2 == 64
    assert fp.acc_bytes == 6 * 8 * 4 * 2 == 384
    assert fp.mpe_utilization_bound == pytest.approx(6 / 8 * 4 / 8)
    assert (fp.core_parts, fp.corelet_parts) == (1, 1)


def test_conv_without_double_buffering():
    fp = footprint(CONV, replace(CONV_MAP, double_buffer=False), M1)
    assert fp.lx_operands == {"input": 1080, "weight": 576, "output": 288}
    assert fp.lx_bytes == 1944
    assert fp.acc_bytes == 6 * 8 * 4 == 192
    assert all(t.buffers == 1 for t in fp.tiles)


def test_conv_whole_tiles_are_single_buffered():
    fp = footprint(CONV, _lx(CONV_MAP, oh=6), M1)
    # input rows 5 * 2 + 4 + 1 = 15: 4 * 15 * 15 * 2, everything loaded once
    assert fp.lx_operands == {"input": 1800, "weight": 576, "output": 576}
    assert all(t.buffers == 1 for t in fp.tiles)


def test_conv_kernel_tiling_shrinks_halo_and_streams_weights():
    fp = footprint(CONV, _lx(CONV_MAP, kh=1), M1)
    # input rows (3 - 1) * 2 + 0 + 1 = 5; the weight changes with kh (3 steps)
    assert fp.tile("input").shape == (1, 1, 4, 5, 15)
    assert fp.lx_operands == {"input": 4 * 5 * 15 * 2 * 2, "weight": 8 * 4 * 3 * 2 * 2,
                              "output": 288}


def test_conv_stride_and_dilation_per_axis():
    # stride (2, 1), dilation (2, 1), pads (2, 1): 6x9 output
    conv = P.conv2d("asym", (1, 4, 11, 9), (8, 4, 3, 3), (2, 1), (2, 1, 2, 1), (2, 1), 1)
    assert (conv.dims["oh"], conv.dims["ow"]) == (6, 9)
    mapping = _lx(CONV_MAP, ow=9)
    # rows (3 - 1) * 2 + (3 - 1) * 2 + 1 = 9, columns (9 - 1) * 1 + (3 - 1) * 1 + 1 = 11
    assert footprint(conv, mapping, M1).tile("input").shape == (1, 1, 4, 9, 11)


def test_corelets_splitting_oc_each_hold_the_input():
    mapping = replace(CONV_MAP, corelets={"oc": 2}, lx={**CONV_MAP.lx, "oc": 2},
                      l0={**CONV_MAP.l0, "oc": 2})
    mapping.validate(CONV)
    fp = check_fits(CONV, mapping, M1)
    # input: 1080 x 2 buffers, one per corelet (each loads it through its own DMA queue)
    # weight: 2 * 4 * 3 * 3 * 2 = 144, one per corelet, changes with oc (4 per corelet, 2 steps)
    # output: 2 * 3 * 6 * 2 = 72, one per corelet
    assert [(t.copies, t.buffers) for t in fp.tiles] == [(2, 2), (2, 2), (2, 1)]
    assert fp.lx_operands == {"input": 4320, "weight": 576, "output": 144}
    assert fp.corelet_parts == 2


def test_corelets_splitting_oh_each_hold_the_weights():
    mapping = replace(CONV_MAP, corelets={"oh": 2})  # 3 rows per corelet: one LX step each
    mapping.validate(CONV)
    fp = footprint(CONV, mapping, M1)
    assert [(t.copies, t.buffers) for t in fp.tiles] == [(2, 1), (2, 1), (2, 1)]
    assert fp.lx_operands == {"input": 2160, "weight": 1152, "output": 576}


def test_corelets_without_work_hold_no_tiles():
    # m = 3 over 4 corelets: parts of 1 row, only 3 corelets get one
    mm = P.matmul("mm3", 1, 3, 8, 8)
    mapping = Mapping(corelets={"m": 4}, rows=("m",), cols=("n",), simd=("k",),
                      order=("b", "m", "n", "k"), lx={"m": 1, "n": 8, "k": 8}, double_buffer=False)
    mapping.validate(mm)
    fp = footprint(mm, mapping, replace(M1, corelets_per_core=4))
    assert [t.copies for t in fp.tiles] == [3, 3, 3]


def test_matmul():
    MM_MAP.validate(MM)
    fp = check_fits(MM, MM_MAP, M1)
    # lhs 10 x 40, rhs 40 x 24, output 10 x 24, f16, m in 2 steps
    assert [t.shape for t in fp.tiles] == [(1, 10, 40), (1, 40, 24), (1, 10, 24)]
    assert fp.lx_operands == {"lhs": 800 * 2, "rhs": 1920, "output": 480}
    assert fp.lx_bytes == 4000
    assert (fp.l0_a_bytes, fp.l0_b_bytes, fp.acc_bytes) == (10 * 16 * 2, 16 * 8 * 2, 10 * 8 * 4 * 2)
    assert fp.mpe_utilization_bound == pytest.approx(10 / 16)


def test_matmul_double_buffer_off():
    fp = footprint(MM, replace(MM_MAP, double_buffer=False), M1)
    assert fp.lx_operands == {"lhs": 800, "rhs": 1920, "output": 480}
    assert fp.acc_bytes == 10 * 8 * 4


def test_missing_lx_and_l0_extents_count_as_one():
    fp = footprint(MM, Mapping(rows=("m",), cols=("n",), simd=("k",), order=("b", "m", "n", "k")),
                   M1)
    assert [t.shape for t in fp.tiles] == [(1, 1, 1)] * 3
    assert (fp.mpe_m, fp.mpe_n, fp.mpe_k) == (1, 1, 1)
    assert fp.mpe_utilization_bound == pytest.approx(1 / 512)


@pytest.mark.parametrize("m, n, k, bound", [
    (8, 8, 8, 1.0), (9, 8, 8, 9 / 16), (16, 64, 128, 1.0), (4, 8, 8, 0.5), (1, 1, 1, 1 / 512),
    (12, 10, 3, 12 / 16 * 10 / 16 * 3 / 8),
])
def test_utilization_bound(m, n, k, bound):
    mapping = replace(MM_MAP, l0={"m": m, "n": n, "k": k})
    assert footprint(MM, mapping, M1).mpe_utilization_bound == pytest.approx(bound)


def test_utilization_bound_uses_the_machine_array():
    mapping = replace(MM_MAP, l0={"m": 16, "n": 16, "k": 16})
    wide = replace(M1, mpe_rows=32, mpe_cols=16, mpe_simd=8)
    assert footprint(MM, mapping, wide).mpe_utilization_bound == pytest.approx(0.5)


def test_tile_lookup():
    fp = footprint(MM, MM_MAP, M1)
    assert fp.tile("rhs").shape == (1, 40, 24)
    with pytest.raises(KeyError):
        fp.tile("bias")


def test_describe():
    fp = footprint(CONV, replace(CONV_MAP, corelets={"oh": 2}, lx={**CONV_MAP.lx, "oh": 2}), M1)
    assert fp.tile("input").describe() == ("input tile (4x7x15 f16, one for each of 2 corelets, "
                                           "double-buffered)")
    assert fp.tile("weight").describe() == "weight tile (8x4x3x3 f16, one for each of 2 corelets)"
    assert footprint(CONV, CONV_MAP, M1).tile("weight").describe() == "weight tile (8x4x3x3 f16)"


# -- errors ------------------------------------------------------------------------------

BIG = P.matmul("big", 1, 256, 256, 256)
BIG_MAP = Mapping(rows=("m",), cols=("n",), simd=("k",), order=("b", "m", "n", "k"),
                  lx={"b": 1, "m": 256, "n": 256, "k": 256}, l0={"m": 8, "n": 8, "k": 8})
SMALL_LX = replace(M1, lx_bytes=64 * KiB)


def _fails(problem, mapping, machine, message):
    with pytest.raises(MappingError) as e:
        check_fits(problem, mapping, machine)
    assert str(e.value) == message


def test_lx_single_tile_too_big():
    _fails(BIG, BIG_MAP, SMALL_LX,
           "layer 'big': the lhs tile (256x256 f16) needs 131072 bytes of LX but LX holds 65536 "
           "bytes; the LX total is 393216 bytes (lhs tile (256x256 f16): 131072; rhs tile "
           "(256x256 f16): 131072; output tile (256x256 f16): 131072)")
    check_fits(BIG, BIG_MAP, M1)  # 2 MiB holds it


def test_lx_total_too_big():
    mapping = replace(BIG_MAP, lx={"b": 1, "m": 64, "n": 128, "k": 128})
    # lhs 64x128, rhs 128x128 streamed (2 buffers each), output 64x128 (one buffer)
    _fails(BIG, mapping, SMALL_LX,
           "layer 'big': the tiles need 114688 bytes of LX but LX holds 65536 bytes (lhs tile "
           "(64x128 f16, double-buffered): 32768; rhs tile (128x128 f16, double-buffered): 65536; "
           "output tile (64x128 f16): 16384)")


def test_lx_conv_message_names_the_input_window():
    conv = P.conv2d("conv1", (1, 3, 224, 224), (64, 3, 7, 7), (2, 2), (3, 3, 3, 3), (1, 1), 1)
    mapping = replace(CONV_MAP, lx={"n": 1, "g": 1, "oc": 64, "oh": 2, "ow": 112, "ic": 3,
                                    "kh": 7, "kw": 7}, l0={"oh": 1, "ow": 64, "oc": 64, "ic": 3})
    mapping.validate(conv)
    fp = check_fits(conv, mapping, M1)
    # rows 1 * 2 + 6 + 1 = 9, columns 111 * 2 + 6 + 1 = 229
    assert fp.tile("input").shape == (1, 1, 3, 9, 229)
    assert fp.lx_operands == {"input": 3 * 9 * 229 * 2 * 2, "weight": 64 * 3 * 49 * 2,
                              "output": 64 * 2 * 112 * 2}
    _fails(conv, mapping, SMALL_LX,
           "layer 'conv1': the tiles need 72220 bytes of LX but LX holds 65536 bytes (input tile "
           "(3x9x229 f16, double-buffered): 24732; weight tile (64x3x7x7 f16): 18816; output tile "
           "(64x2x112 f16): 28672)")


def test_l0_a_too_big():
    _fails(BIG, replace(BIG_MAP, l0={"m": 64, "n": 8, "k": 256}), M1,
           "layer 'big': the MPE A tile (64x256 f16: rows (m=64) x simd (k=256)) needs 32768 "
           "bytes of L0 A but L0 A holds 16384 bytes")


def test_l0_b_too_big():
    _fails(BIG, replace(BIG_MAP, l0={"m": 8, "n": 64, "k": 256}), M1,
           "layer 'big': the MPE B tile (256x64 f16: simd (k=256) x cols (n=64)) needs 32768 "
           "bytes of L0 B but L0 B holds 16384 bytes")


def test_l0_limits_are_inclusive():
    check_fits(BIG, replace(BIG_MAP, l0={"m": 64, "n": 64, "k": 128}), M1)


def test_acc_too_big():
    _fails(BIG, replace(BIG_MAP, l0={"m": 128, "n": 128, "k": 1}), M1,
           "layer 'big': the accumulator tile (128x128 f32: rows (m=128) x cols (n=128), "
           "double-buffered) needs 131072 bytes of ACC but ACC holds 65536 bytes")
    # single-buffered it needs exactly the 64 KiB ACC
    check_fits(BIG, replace(BIG_MAP, l0={"m": 128, "n": 128, "k": 1}, double_buffer=False), M1)


def test_acc_holds_the_lx_output_tile_across_ic_steps():
    # lx(ic) = 2 < 4: the partial sums of the whole 3 x 6 x 8 output tile stay in ACC
    # across the two LX ic steps, one 6 x 8 slot per L0 tile (3 rows of 1), not doubled.
    mapping = replace(CONV_MAP, lx={**CONV_MAP.lx, "ic": 2}, l0={**CONV_MAP.l0, "ic": 2})
    mapping.validate(CONV)
    fp = check_fits(CONV, mapping, M1)
    assert fp.acc_tiles == 3
    assert fp.acc_bytes == 3 * 6 * 8 * 4
    # a ragged L0 tile still takes a whole slot: lx(oh) = 3 in l0(oh) = 2 is 2 slots of 2 x 6
    ragged = replace(mapping, l0={**mapping.l0, "oh": 2})
    assert footprint(CONV, ragged, M1).acc_bytes == 2 * (2 * 6) * 8 * 4
    # with the whole reduction in one LX step, one tile (double-buffered) as before
    assert footprint(CONV, CONV_MAP, M1).acc_tiles == 1


def test_acc_holds_the_lx_output_tile_across_k_steps():
    mapping = replace(MM_MAP, lx={**MM_MAP.lx, "k": 16})  # 3 LX k steps
    fp = check_fits(MM, mapping, M1)
    assert fp.acc_tiles == 1 * 3  # lx(m) = l0(m) = 10, lx(n) = 24 in 3 l0(n) = 8
    assert fp.acc_bytes == 3 * 10 * 8 * 4


def test_acc_partial_sums_too_big():
    mapping = replace(CONV_MAP, lx={**CONV_MAP.lx, "ic": 2}, l0={**CONV_MAP.l0, "ic": 2})
    _fails(CONV, mapping, replace(M1, acc_bytes=512),
           "layer 'small': the partial sums of the LX output tile (3 tiles of 6x8 f32: lx over rows "
           "(oh=3,ow=6) x cols (oc=8), kept across the LX steps of ic) need 576 bytes of ACC but ACC "
           "holds 512 bytes")


def test_conv_l0_message_lists_every_dim():
    mapping = replace(CONV_MAP, l0={"oh": 1, "ow": 6, "oc": 8, "ic": 4})
    tiny = replace(M1, l0_a_bytes=256, l0_b_bytes=256, acc_bytes=256, mpe_rows=4, mpe_cols=4)
    _fails(CONV, replace(mapping, double_buffer=True), tiny,
           "layer 'small': the accumulator tile (6x8 f32: rows (oh=1,ow=6) x cols (oc=8), "
           "double-buffered) needs 384 bytes of ACC but ACC holds 256 bytes")


def test_too_many_cores():
    mapping = replace(MM_MAP, cores={"n": 8})
    _fails(MM, mapping, M4, "layer 'mm': cores(n=8) splits the work into 8 parts but machine "
                            "'rapid-4c' has 4 cores")
    _fails(MM, replace(MM_MAP, cores={"n": 2, "m": 4}), M4,
           "layer 'mm': cores(n=2,m=4) splits the work into 8 parts but machine 'rapid-4c' has 4 "
           "cores")
    check_fits(MM, replace(MM_MAP, cores={"n": 2, "m": 2}), M4)


def test_too_many_corelets():
    _fails(MM, replace(MM_MAP, corelets={"m": 2, "n": 2}), M4,
           "layer 'mm': corelets(m=2,n=2) splits a core's work into 4 parts but a core of "
           "machine 'rapid-4c' has 2 corelets")


def test_core_check_comes_first():
    bad = replace(BIG_MAP, cores={"m": 2}, l0={"m": 128, "n": 128, "k": 128})
    with pytest.raises(MappingError, match="cores"):
        check_fits(BIG, bad, M1)
