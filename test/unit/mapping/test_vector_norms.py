"""The loop nests of GELU, layer norm, LRN, reduce and softmax along any axis (vector
layers): dims, reductions, operands and their roles; the fixed mapping keeps reduced dims
whole and fits; mappings round-trip through text and JSON; footprints."""

import pytest

from rapid_mlir.machine import PRESETS
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.fixed import fixed_mapping
from rapid_mlir.mapping.footprint import check_fits, footprint
from rapid_mlir.mapping.mapping import Mapping

M4 = PRESETS["rapid-4c"]

LAYERS = [
    P.gelu("gelu", (2, 5, 9, 9)),
    P.layer_norm("ln", (2, 4, 7, 9), 2, True),
    P.layer_norm("ln_wide", (8, 4096), -1, False),
    P.lrn("lrn", (1, 96, 55, 55), 5),
    P.reduce("sum", (2, 4, 7, 9), (1, 3), "sum"),
    P.reduce("mean_all", (2, 4, 7, 9), (), "mean"),
    P.softmax("softmax_axis1", (2, 5, 9), 1),
    P.softmax("softmax_axis0", (1000, 8), 0),
]


def roles(problem):
    return {o.name: (o.dims, o.itemsize, o.role) for o in problem.operands}


def test_gelu_has_an_f32_temp_tile():
    p = LAYERS[0]
    assert p.dims == {"d0": 2, "d1": 5, "d2": 9, "d3": 9} and p.reduction == ()
    assert roles(p)["cdf"] == (("d0", "d1", "d2", "d3"), 4, "temp")


def test_layer_norm_flattens_rows_and_normalised_dims():
    p = LAYERS[1]
    assert p.dims == {"m": 8, "k": 63} and p.reduction == ("k",)
    r = roles(p)
    assert r["scale"] == (("k",), 2, "resident") and r["bias"] == (("k",), 2, "resident")
    assert r["centred"] == (("m", "k"), 4, "temp") and r["stats"] == (("m",), 4, "temp")
    assert "bias" not in roles(LAYERS[2]) and LAYERS[2].dims == {"m": 8, "k": 4096}
    assert P.layer_norm("first", (3, 5), 0, True).dims == {"m": 1, "k": 15}


def test_lrn_keeps_channels_whole():
    p = LAYERS[3]
    assert p.dims == {"n": 1, "c": 96, "s": 3025} and p.reduction == ("c",) and p.params == {"size": 5}
    assert P.vector_whole_dims(p) == ("c",)


@pytest.mark.parametrize("dims, reduced, groups", [
    ({"d0": 2, "d1": 4, "d2": 7, "d3": 9}, ("d1", "d3"), [("d3",), ("d1",)]),     # innermost run first
    ({"d0": 2, "d1": 4, "d2": 7, "d3": 9}, ("d2", "d3"), [("d2", "d3")]),         # adjacent: one run
    ({"d0": 4, "d1": 1, "d2": 6}, ("d0", "d2"), [("d0", "d2")]),                 # a unit dim between
    ({"d0": 2, "d1": 3}, ("d0", "d1"), [("d0", "d1")]),
    ({"d0": 2, "d1": 3, "d2": 2, "d3": 3, "d4": 2}, ("d0", "d2", "d4"), [("d4",), ("d2",), ("d0",)]),
])
def test_reduce_groups(dims, reduced, groups):
    assert P.reduce_groups(dims, reduced) == groups


def test_reduce_operands():
    p = LAYERS[4]
    assert p.dims == {"d0": 2, "d1": 4, "d2": 7, "d3": 9} and p.reduction == ("d1", "d3")
    assert [(o.name, o.dims, o.role) for o in p.operands] == [
        ("input", ("d0", "d1", "d2", "d3"), "tile"), ("partial0", ("d0", "d1", "d2"), "temp"),
        ("output", ("d0", "d2"), "tile")]
    mean = LAYERS[5]
    assert mean.reduction == ("d0", "d1", "d2", "d3")
    assert [(o.name, o.dims) for o in mean.operands] == [("input", tuple(mean.dims)), ("sums", ()), ("output", ())]
    assert P.reduce("neg", (3, 4, 5), (-1, 0), "max").reduction == ("d0", "d2")
    assert P.reduce_axes(3, (-1, 0, 2)) == (0, 2)


def test_softmax_over_another_axis():
    p = LAYERS[6]
    assert p.dims == {"m": 2, "k": 5, "i": 9} and p.reduction == ("k",)
    assert roles(p)["stats"] == (("m", "i"), 4, "temp")


@pytest.mark.parametrize("machine", list(PRESETS.values()), ids=lambda m: m.name)
@pytest.mark.parametrize("problem", LAYERS, ids=lambda p: p.layer)
def test_fixed_mapping_keeps_reduced_dims_whole_and_fits(problem, machine):
    mapping = fixed_mapping(problem, machine)
    fp = check_fits(problem, mapping, machine)
    assert fp.lx_bytes <= machine.lx_bytes
    for d in problem.reduction:
        assert d not in mapping.cores and d not in mapping.corelets
        assert mapping.lx[d] == problem.dims[d]
    for d, parts in mapping.cores.items():
        assert problem.dims[d] % parts == 0


def test_lrn_tiles_the_spatial_dims():
    mapping = fixed_mapping(LAYERS[3], M4)
    # 55 x 55 = 3025 positions have no divisor up to 4 but 1: one core (equal shares), its
    # two corelets take 1513 + 1512; 96 channels whole leave 16384 // 96 = 170 positions
    # per tile, and 89 divides 1513
    assert mapping.cores == {} and mapping.corelets == {"s": 2}
    assert mapping.lx == {"n": 1, "c": 96, "s": 89}


@pytest.mark.parametrize("problem", LAYERS, ids=lambda p: p.layer)
def test_text_and_json_round_trip(problem):
    mapping = fixed_mapping(problem, M4)
    assert Mapping.from_text(mapping.to_text()) == mapping
    assert Mapping.from_dict(mapping.to_dict()) == mapping


def test_layer_norm_footprint():
    p = LAYERS[1]
    fp = footprint(p, Mapping(order=("m", "k"), lx={"m": 2, "k": 63}), M4)
    # streamed tiles double-buffered (4 row steps), vectors whole once, temps one tile
    assert fp.lx_operands == {"input": 2 * 63 * 2 * 2, "scale": 63 * 2, "bias": 63 * 2, "centred": 2 * 63 * 4,
                              "squares": 2 * 63 * 4, "stats": 2 * 4, "output": 2 * 63 * 2 * 2}
