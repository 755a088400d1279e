"""Vector layers (the SFU alone): loop nests, the fixed rules, footprints, mapping forms."""

from dataclasses import replace

import pytest

from rapid_mlir.machine import KiB, PRESETS
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.fixed import fixed_mapping
from rapid_mlir.mapping.footprint import check_fits, footprint
from rapid_mlir.mapping.mapping import Mapping, MappingError

M1, M4, M32 = PRESETS["rapid-1c"], PRESETS["rapid-4c"], PRESETS["rapid-32c"]

LAYERS = [
    P.elementwise("relu", (1, 256, 56, 56), [(1, 256, 56, 56)]),
    P.elementwise("residual", (1, 64, 56, 56), [(1, 64, 56, 56), (1, 64, 56, 56)]),
    P.elementwise("bias", (2, 5, 9, 9), [(2, 5, 9, 9), (5, 1, 1)]),
    P.elementwise("outer", (7, 33), [(7, 1), (33,)]),
    P.elementwise("odd", (1, 3, 7, 5), [(1, 3, 7, 5)]),
    P.elementwise("prime", (1, 9973), [(1, 9973)]),
    P.batch_norm("bn", (1, 64, 112, 112)),
    P.batch_norm("bn_odd", (2, 5, 9, 9)),
    P.batch_norm("bn_2d", (8, 100)),
    P.pool2d("maxpool", (1, 64, 112, 112), (1, 64, 56, 56), (3, 3), (2, 2), (1, 1, 1, 1)),
    P.pool2d("avgpool", (2, 5, 9, 9), (2, 5, 5, 5), (3, 3), (2, 2), (1, 1, 1, 1)),
    P.global_pool("gap", (1, 2048, 7, 7)),
    P.global_pool("gap_odd", (2, 5, 9, 9)),
    P.softmax("softmax", (8, 1000), -1),
    P.softmax("softmax_3d", (2, 5, 9), 2),
]


# -- loop nests ------------------------------------------------------------------------------


def test_elementwise_broadcast_dims():
    p = P.elementwise("mul", (2, 5, 9, 9), [(2, 5, 9, 9), (5, 1, 9)])
    assert p.kind == "vector" and p.dims == {"d0": 2, "d1": 5, "d2": 9, "d3": 9} and p.reduction == ()
    assert [(o.name, o.dims) for o in p.operands] == [
        ("input0", ("d0", "d1", "d2", "d3")), ("input1", ("d1", "d3")), ("output", ("d0", "d1", "d2", "d3"))]


def test_unary_has_one_input():
    assert [o.name for o in P.elementwise("t", (3, 4), [(3, 4)]).operands] == ["input", "output"]


def test_batch_norm_vectors_are_resident():
    p = P.batch_norm("bn", (2, 5, 9, 9))
    assert p.dims == {"n": 2, "c": 5, "s": 81}
    roles = {o.name: (o.dims, o.itemsize, o.role) for o in p.operands}
    assert roles["scale"] == (("c",), 2, "resident") and roles["bn_shift"] == (("c",), 4, "resident")
    assert roles["input"] == (("n", "c", "s"), 2, "tile")


def test_pool_reads_a_window_and_reduces_the_kernel():
    p = P.pool2d("mp", (1, 3, 9, 9), (1, 3, 5, 5), (3, 3), (2, 2), (1, 1, 1, 1))
    assert p.dims == {"n": 1, "c": 3, "oh": 5, "ow": 5, "kh": 3, "kw": 3}
    assert p.reduction == ("kh", "kw") and p.operands[0].role == "window"
    assert P.vector_whole_dims(p) == ("oh", "ow", "kh", "kw")


def test_global_pool_and_softmax():
    gap = P.global_pool("gap", (2, 5, 9, 9))
    assert gap.dims == {"n": 2, "c": 5, "s": 81} and P.vector_whole_dims(gap) == ("s",)
    assert P.softmax("s", (2, 5, 9), -1).dims == {"m": 10, "k": 9}
    assert P.softmax("s", (2, 5, 9), 1).dims == {"m": 2, "k": 5, "i": 9}


# -- the fixed rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("machine", list(PRESETS.values()), ids=lambda m: m.name)
@pytest.mark.parametrize("problem", LAYERS, ids=lambda p: p.layer)
def test_fixed_mapping_is_valid_and_fits(problem, machine):
    mapping = fixed_mapping(problem, machine)
    mapping.validate(problem)
    fp = check_fits(problem, mapping, machine)
    assert (mapping.rows, mapping.cols, mapping.simd, mapping.l0) == ((), (), (), {})
    assert mapping.order == tuple(problem.dims) and mapping.double_buffer
    assert fp.lx_bytes <= machine.lx_bytes and fp.l0_a_bytes == fp.acc_bytes == 0
    whole = P.vector_whole_dims(problem)
    for split in (mapping.cores, mapping.corelets):
        assert len(split) <= 1 and not set(split) & set(whole)
    for d, parts in mapping.cores.items():  # equal shares: every core runs the same code
        assert problem.dims[d] % parts == 0
    for d in whole:
        assert mapping.lx[d] == mapping.per_corelet_extent(problem, d)
    assert len(mapping.corelets) == 0 or sum(mapping.corelets.values()) <= machine.dma_queues


def test_cores_take_the_outermost_dim_they_divide():
    relu = LAYERS[0]
    assert fixed_mapping(relu, M4).cores == {"d1": 4}
    assert fixed_mapping(relu, M32).cores == {"d1": 32}
    # no dim of 1x3x7x5 divides by 4: the largest divisor wins (3 of d1), 7 of d2 on 32 cores
    assert fixed_mapping(P.elementwise("odd", (1, 3, 7, 5), [(1, 3, 7, 5)]), M4).cores == {"d1": 3}
    assert fixed_mapping(P.elementwise("odd", (1, 3, 7, 5), [(1, 3, 7, 5)]), M32).cores == {"d2": 7}
    # a prime extent cannot be shared equally: one core
    assert fixed_mapping(P.elementwise("prime", (1, 9973), [(1, 9973)]), M4).cores == {}


def test_corelets_split_a_core_share_and_tiles_are_capped():
    mapping = fixed_mapping(LAYERS[0], M4)  # 64 channels per core, 32 per corelet
    assert mapping.corelets == {"d1": 2}
    # 56 x 56 = 3136 elements per channel: 16384 // 3136 = 5 -> the divisor 4 of 32
    assert mapping.lx == {"d0": 1, "d1": 4, "d2": 56, "d3": 56}


def test_pooling_keeps_rows_whole_and_tiles_channels():
    mapping = fixed_mapping(LAYERS[9], M4)
    assert mapping.cores == {"c": 4} and mapping.corelets == {"c": 2}
    # the cap counts the window: 56 * 56 * 3 * 3 > 16384, so one channel per step
    assert mapping.lx == {"n": 1, "c": 1, "oh": 56, "ow": 56, "kh": 3, "kw": 3}


def test_softmax_rows_split_and_k_whole():
    assert fixed_mapping(LAYERS[13], M4).to_text() == (
        "cores(m=4) corelets(m=2) rows() cols() simd() order(m,k) lx(m=1,k=1000) l0() double_buffer")


def test_small_lx_halves_the_tile_until_it_fits():
    small = replace(M1, lx_bytes=64 * KiB)
    mapping = fixed_mapping(LAYERS[1], small)
    fp = check_fits(LAYERS[1], mapping, small)
    assert fp.lx_bytes <= 64 * KiB and mapping.lx["d1"] == 1 and mapping.lx["d2"] < 56


def test_does_not_fit_names_the_layer_and_tile():
    small = replace(M1, lx_bytes=64 * KiB)
    huge = P.softmax("logits", (1, 50000), -1)
    with pytest.raises(MappingError) as e:
        fixed_mapping(huge, small)
    message = str(e.value)
    assert message.startswith("layer 'logits': the exp tile (50000 f32) needs 200000 bytes of LX but LX holds "
                              "65536 bytes")
    assert "the fixed mapping cannot tile it smaller than" in message


# -- footprints ---------------------------------------------------------------------------------


def test_elementwise_footprint_counts_copies_buffers_and_broadcasts():
    p = P.elementwise("bias", (2, 5, 9, 9), [(2, 5, 9, 9), (5, 1, 1)])
    mapping = Mapping(corelets={"d0": 2}, order=tuple(p.dims), lx={"d0": 1, "d1": 5, "d2": 3, "d3": 9})
    fp = check_fits(p, mapping, M1)
    # input0 5x3x9 f16 = 270 bytes, two corelets, double-buffered (3 steps along d2)
    # input1 is indexed by d1 only: 5 f16 = 10 bytes, loaded once per corelet
    assert fp.lx_operands == {"input0": 270 * 4, "input1": 10 * 2, "output": 270 * 4}
    assert [(t.copies, t.buffers) for t in fp.tiles] == [(2, 2), (2, 1), (2, 2)]
    assert fp.tile("input1").describe() == "input1 tile (5 f16, one for each of 2 corelets)"


def test_resident_and_temp_operands_hold_one_buffer():
    bn = P.batch_norm("bn", (2, 8, 4, 4))
    mapping = Mapping(order=("n", "c", "s"), lx={"n": 1, "c": 2, "s": 16})
    fp = footprint(bn, mapping, M1)
    # the vectors hold all 8 channels (the corelet's share), once; the tiles step over n and c
    assert fp.lx_operands == {"input": 2 * 16 * 2 * 2, "scale": 16, "bias": 16, "mean": 16, "var": 16,
                              "bn_scale": 32, "bn_shift": 32, "output": 2 * 16 * 2 * 2}
    sm = P.softmax("sm", (6, 10), -1)
    fp = footprint(sm, Mapping(order=("m", "k"), lx={"m": 2, "k": 10}), M1)
    assert fp.lx_operands == {"input": 80, "exp": 80, "stats": 8, "output": 80}


def test_pool_window_includes_the_halo():
    p = P.pool2d("mp", (1, 4, 11, 11), (1, 4, 5, 5), (3, 3), (2, 2), (0, 0, 0, 0), (1, 1))
    mapping = Mapping(order=tuple(p.dims), lx={"n": 1, "c": 4, "oh": 5, "ow": 5, "kh": 3, "kw": 3})
    fp = footprint(p, mapping, M1)
    assert fp.tile("input").shape == (1, 4, 11, 11) and fp.tile("input").buffers == 1
    assert fp.lx_bytes == 4 * 11 * 11 * 2 + 4 * 5 * 5 * 2


def test_lx_overflow_message():
    p = LAYERS[1]
    mapping = Mapping(order=tuple(p.dims), lx={"d0": 1, "d1": 64, "d2": 56, "d3": 56})
    with pytest.raises(MappingError, match=r"layer 'residual': the input0 tile \(64x56x56 f16\) needs 401408 "
                                           r"bytes of LX but LX holds 65536 bytes"):
        check_fits(p, mapping, replace(M1, lx_bytes=64 * KiB))


# -- mapping forms --------------------------------------------------------------------------------


@pytest.mark.parametrize("problem", LAYERS[:4], ids=lambda p: p.layer)
def test_text_and_json_round_trip(problem):
    mapping = fixed_mapping(problem, M4)
    assert Mapping.from_text(mapping.to_text()) == mapping
    assert Mapping.from_dict(mapping.to_dict()) == mapping


def test_validate_names_unknown_dims():
    with pytest.raises(MappingError, match=r"layer 'relu': lx\(oc=...\) names no dimension of the layer"):
        Mapping(order=("d0", "d1", "d2", "d3"), lx={"oc": 1}).validate(LAYERS[0])
