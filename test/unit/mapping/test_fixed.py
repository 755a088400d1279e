"""fixed_mapping: the baseline strategy on real layer shapes and every machine preset."""

import math
from dataclasses import replace

import pytest

from rapid_mlir.machine import KiB, PRESETS
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.fixed import fixed_mapping
from rapid_mlir.mapping.footprint import check_fits
from rapid_mlir.mapping.mapping import MappingError


def conv(name, c, h, w, o, k, stride=1, pad=None, groups=1, dilation=1, n=1, kw=None):
    """An NCHW conv of a c x h x w input into o channels with a k x kw kernel."""
    kw = k if kw is None else kw
    ph = (dilation * (k - 1)) // 2 if pad is None else pad
    pw = (dilation * (kw - 1)) // 2 if pad is None else pad
    return P.conv2d(name, (n, c, h, w), (o, c // groups, k, kw), (stride, stride), (ph, pw, ph, pw),
                    (dilation, dilation), groups)


CONVS = [
    # ResNet-50
    conv("resnet.conv1", 3, 224, 224, 64, 7, stride=2),
    conv("resnet.l1.1x1a", 64, 56, 56, 64, 1),
    conv("resnet.l1.3x3", 64, 56, 56, 64, 3),
    conv("resnet.l1.1x1b", 64, 56, 56, 256, 1),
    conv("resnet.l2.down", 256, 56, 56, 512, 1, stride=2),
    conv("resnet.l2.3x3", 128, 28, 28, 128, 3),
    conv("resnet.l3.3x3", 256, 14, 14, 256, 3),
    conv("resnet.l4.down", 1024, 14, 14, 2048, 1, stride=2),
    conv("resnet.l4.3x3", 512, 7, 7, 512, 3),
    conv("resnet.l4.1x1", 2048, 7, 7, 512, 1),
    # VGG-16
    conv("vgg.conv1_1", 3, 224, 224, 64, 3),
    conv("vgg.conv1_2", 64, 224, 224, 64, 3),
    conv("vgg.conv2_2", 128, 112, 112, 128, 3),
    conv("vgg.conv3_3", 256, 56, 56, 256, 3),
    conv("vgg.conv4_3", 512, 28, 28, 512, 3),
    conv("vgg.conv5_3", 512, 14, 14, 512, 3),
    # AlexNet (grouped as in the original)
    conv("alexnet.conv1", 3, 227, 227, 96, 11, stride=4, pad=0),
    conv("alexnet.conv2", 96, 27, 27, 256, 5, groups=2),
    conv("alexnet.conv3", 256, 13, 13, 384, 3),
    conv("alexnet.conv4", 384, 13, 13, 384, 3, groups=2),
    # depthwise (ic = 1 per group), odd sizes, rectangular, dilated, batched
    conv("mobilenet.dw1", 32, 112, 112, 32, 3, groups=32),
    conv("mobilenet.dw13", 1024, 7, 7, 1024, 3, groups=1024),
    conv("mobilenet.dw_s2", 512, 14, 14, 512, 3, stride=2, groups=512),
    conv("inception.17x17", 768, 17, 17, 192, 1),
    conv("inception.1x7", 160, 17, 17, 160, 1, kw=7, pad=0),
    conv("odd.13x13", 5, 13, 13, 7, 3),
    conv("deeplab.dilated", 512, 28, 28, 512, 3, dilation=2),
    conv("batch4", 64, 28, 28, 64, 3, n=4),
    conv("tiny", 1, 1, 1, 1, 1),
]

MATMULS = [
    P.matmul("resnet.fc", 1, 1, 1000, 2048),
    P.matmul("bert.qkv", 1, 128, 768, 768),
    P.matmul("bert.ffn", 1, 128, 3072, 768),
    P.matmul("bert.attn", 12, 128, 128, 64),
    P.matmul("vgg.fc6", 1, 1, 4096, 25088),
    P.matmul("vector", 1, 1, 1, 1),
    P.matmul("skinny", 1, 1000, 1, 7),
]

MACHINES = list(PRESETS.values())


def _check(problem, machine):
    mapping = fixed_mapping(problem, machine)
    mapping.validate(problem)
    fp = check_fits(problem, mapping, machine)
    assert mapping.double_buffer
    assert fp.lx_bytes <= machine.lx_bytes
    assert fp.l0_a_bytes <= machine.l0_a_bytes
    assert fp.l0_b_bytes <= machine.l0_b_bytes
    assert fp.acc_bytes <= machine.acc_bytes
    assert fp.core_parts <= machine.cores
    assert fp.corelet_parts <= machine.corelets_per_core
    assert 0 < fp.mpe_utilization_bound <= 1
    return mapping, fp


def _uses_cores(problem, mapping, machine, candidates):
    """When a candidate dim is as big as the machine, the split is as fine as it can be."""
    big = [d for d in candidates if problem.dims[d] >= machine.cores]
    if not big or machine.cores == 1:
        return
    assert list(mapping.cores) == [big[0]]
    extent = problem.dims[big[0]]
    assert math.ceil(extent / mapping.cores[big[0]]) == math.ceil(extent / machine.cores)
    assert mapping.cores[big[0]] > machine.cores // 2


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
@pytest.mark.parametrize("problem", CONVS, ids=lambda p: p.layer)
def test_conv(problem, machine):
    mapping, fp = _check(problem, machine)
    assert (mapping.rows, mapping.cols, mapping.simd) == (("oh", "ow"), ("oc",), ("ic",))
    assert mapping.order == ("n", "g", "oc", "oh", "ow", "ic", "kh", "kw")
    _uses_cores(problem, mapping, machine, ("oc", "g", "oh"))
    extent = {d: mapping.per_corelet_extent(problem, d) for d in problem.dims}
    # the kernel is never tiled; ow is whole; oc is one l0 tile
    assert mapping.lx["kh"] == problem.dims["kh"] and mapping.lx["kw"] == problem.dims["kw"]
    assert mapping.lx["ow"] == extent["ow"]
    assert mapping.lx["oc"] == mapping.l0["oc"]
    # LX tiles hold whole L0 tiles (or the whole extent)
    for d in ("oh", "ic"):
        assert mapping.lx[d] == extent[d] or mapping.lx[d] % mapping.l0[d] == 0
    assert set(mapping.l0) == {"oh", "ow", "oc", "ic"}
    assert mapping.l0["ic"] <= 64 and mapping.l0["oc"] <= 64 and fp.mpe_m <= 64


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
@pytest.mark.parametrize("problem", MATMULS, ids=lambda p: p.layer)
def test_matmul(problem, machine):
    mapping, fp = _check(problem, machine)
    assert (mapping.rows, mapping.cols, mapping.simd) == (("m",), ("n",), ("k",))
    assert mapping.order == ("b", "m", "n", "k")
    _uses_cores(problem, mapping, machine, ("n", "m"))
    assert fp.mpe_m <= 64 and fp.mpe_n <= 64 and fp.mpe_k <= 128
    extent = mapping.per_corelet_extent(problem, "k")
    assert mapping.lx["k"] == extent or mapping.lx["k"] % mapping.l0["k"] == 0


def test_conv_rules_on_one_layer():
    mapping = fixed_mapping(conv("l1", 64, 56, 56, 64, 3), PRESETS["rapid-4c"])
    assert mapping.to_text() == (
        "cores(oc=4) corelets(oh=2) rows(oh,ow) cols(oc) simd(ic) order(n,g,oc,oh,ow,ic,kh,kw) "
        "lx(n=1,g=1,oc=16,oh=28,ow=56,ic=64,kh=3,kw=3) l0(oh=1,ow=56,oc=16,ic=64) double_buffer")


def test_conv_small_output_rows_group_pixels():
    # ow = 14: l0(oh) = 64 // 14 = 4 rows of 14 pixels
    mapping = fixed_mapping(conv("l3", 256, 14, 14, 256, 3), PRESETS["rapid-1c"])
    assert mapping.l0 == {"oh": 4, "ow": 14, "oc": 64, "ic": 64}
    assert mapping.corelets == {"oh": 2}


def test_conv_depthwise_splits_groups():
    mapping = fixed_mapping(conv("dw", 32, 112, 112, 32, 3, groups=32), PRESETS["rapid-32c"])
    assert mapping.cores == {"g": 32}
    assert mapping.l0["oc"] == 1 and mapping.l0["ic"] == 1


def test_conv_small_layer_splits_the_biggest_dim():
    # oc = 7, oh = 13: neither reaches 32 cores, oh is bigger
    mapping = fixed_mapping(conv("odd", 5, 13, 13, 7, 3), PRESETS["rapid-32c"])
    assert mapping.cores == {"oh": 13}
    assert mapping.corelets == {"oc": 2}  # one row per core: the corelets split oc


def test_conv_with_deep_input_tiles_ic():
    # a whole-ic weight tile (64 x 2048 x 3 x 3 f16 = 2.25 MiB) cannot fit 2 MiB
    problem = conv("deep", 2048, 7, 7, 512, 3)
    mapping, _ = _check(problem, PRESETS["rapid-1c"])
    assert mapping.lx["ic"] < 2048
    assert mapping.lx["ic"] % mapping.l0["ic"] == 0


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c"])
def test_conv_streaming_ic_keeps_the_output_tile_in_acc(machine):
    # VGG-16 conv4_3 (512 -> 512 at 28 x 28): each corelet holds its own 64 x 512 x 3 x 3
    # weight tiles (2 x 576 KiB double-buffered), too much for 2 MiB with the input, so ic
    # streams through LX and the partial sums of the LX output tile stay in ACC.
    problem = conv("vgg.conv4_3", 512, 28, 28, 512, 3)
    mapping, fp = _check(problem, PRESETS[machine])
    assert mapping.lx["ic"] < 512
    assert fp.acc_tiles == -(-mapping.lx["oh"] // mapping.l0["oh"]) > 1
    assert fp.acc_bytes <= PRESETS[machine].acc_bytes


def test_conv_uneven_split_leaves_no_core_idle():
    # oh = 56 over 32 cores: 2 rows per core, so 28 parts
    mapping = fixed_mapping(conv("c", 3, 56, 56, 8, 3), PRESETS["rapid-32c"])
    assert mapping.cores == {"oh": 28}


def test_matmul_rules_on_one_layer():
    mapping = fixed_mapping(P.matmul("qkv", 1, 128, 768, 768), PRESETS["rapid-4c"])
    assert mapping.to_text() == (
        "cores(n=4) corelets(m=2) rows(m) cols(n) simd(k) order(b,m,n,k) "
        "lx(b=1,m=64,n=192,k=768) l0(m=64,n=64,k=128) double_buffer")


def test_matmul_long_k_is_tiled_in_l0_multiples():
    mapping, _ = _check(P.matmul("fc", 1, 1, 1000, 2048), PRESETS["rapid-1c"])
    assert mapping.lx["k"] < 2048
    assert mapping.lx["k"] % 128 == 0


@pytest.mark.parametrize("changes", [
    {"corelets_per_core": 1}, {"corelets_per_core": 4, "cores": 3},
    {"mpe_rows": 16, "mpe_cols": 16, "mpe_simd": 16},
    {"l0_a_bytes": 1024, "l0_b_bytes": 512, "acc_bytes": 1024},
    {"lx_bytes": 512 * KiB},
])
def test_machine_variants(changes):
    machine = replace(PRESETS["rapid-4c"], **changes)
    for problem in CONVS[::3] + MATMULS:
        _check(problem, machine)


def test_small_l0_shrinks_instruction_tiles():
    machine = replace(PRESETS["rapid-1c"], l0_a_bytes=1024, l0_b_bytes=512, acc_bytes=1024)
    mapping, fp = _check(conv("c", 64, 56, 56, 64, 3), machine)
    assert fp.l0_a_bytes <= 1024 and fp.l0_b_bytes <= 512 and fp.acc_bytes <= 1024
    assert mapping.l0["ic"] < 64


def test_does_not_fit():
    machine = replace(PRESETS["rapid-1c"], lx_bytes=64 * KiB)
    problem = conv("huge", 4096, 14, 14, 64, 7)
    with pytest.raises(MappingError) as e:
        fixed_mapping(problem, machine)
    message = str(e.value)
    # the smallest tiling streams ic in 64-channel steps: the weight tile is double-buffered
    assert message.startswith("layer 'huge': the weight tile (64x64x7x7 f16, one for each of 2 corelets, "
                              "double-buffered) needs 1605632 bytes of LX but LX holds 65536 bytes")
    assert "the fixed mapping cannot tile it smaller than" in message
    assert "lx(n=1,g=1,oc=64,oh=4,ow=14,ic=64,kh=7,kw=7)" in message


def test_unknown_kind():
    problem = P.Problem("pool", "maxpool", {"n": 1}, (), ())
    with pytest.raises(MappingError, match="layer 'pool': no fixed mapping for a maxpool layer"):
        fixed_mapping(problem, PRESETS["rapid-1c"])


def test_corelets_never_outnumber_the_dma_queues():
    """Each corelet moves its tiles through a DMA queue of its own: on a machine with more
    corelets than queues, fixed splits over as many corelets as queues, and check_fits
    (which every strategy and every pinned mapping goes through) rejects more."""
    machine = replace(PRESETS["rapid-4c"], corelets_per_core=4, dma_queues=2)
    for problem in (conv("c", 64, 56, 56, 64, 3), P.matmul("mm", 1, 256, 256, 256)):
        mapping = fixed_mapping(problem, machine)
        assert math.prod(mapping.corelets.values()) == 2
        check_fits(problem, mapping, machine)
    problem = conv("c", 64, 56, 56, 64, 3)
    four = replace(fixed_mapping(problem, machine), corelets={"oh": 4})
    with pytest.raises(MappingError, match=r"layer 'c': corelets\(oh=4\) splits a core's work into 4 parts but "
                                           r"each corelet needs a DMA queue of its own and machine 'rapid-4c' has 2"):
        check_fits(problem, four, machine)
