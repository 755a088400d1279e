"""Weights kept in LX across kernels (`mapping/residency.py`): the mapping clause, the
cost model without the load, the dse strategy's group decision, the allocator's reserved
region, and the emulated program against the reference interpreter."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from rapid_mlir.cost import predict
from rapid_mlir.machine import load_machine
from rapid_mlir.mapping import dse
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.residency import check_resident, loads_once, reserved_bytes

RESIDENT = ("cores(n=4) corelets(n=2) rows(m) cols(n) simd(k) order(b,m,n,k) lx(b=1,m=1,n=32,k=256) "
            "l0(m=1,n=32,k=128) double_buffer resident(rhs)")
STEPPED = RESIDENT.replace("k=256)", "k=128)")


def _chain(steps: int, n: int = 256, seed: int = 0, weights: int = 1):
    """h <- tanh(h W^T), `steps` times, reading one weight W (n x n) (a recurrent layer),
    or `weights` weights in turn."""
    from rapid_mlir.dialects import nn
    from rapid_mlir.frontend.builder import GraphBuilder

    g = GraphBuilder()
    h = g.input("h0", [1, n])
    rng = np.random.default_rng(seed)
    ws = [g.constant(f"w{i}" if weights > 1 else "w", rng.standard_normal((n, n)).astype(np.float32) / np.sqrt(n))
          for i in range(weights)]
    for t in range(steps):
        h = g.add(nn.TanhOp(g.add(nn.GemmOp(h, ws[t % weights], None, trans_b=True), f"t{t}.rec")), f"t{t}.h")
    g.output("y", h)
    return g.finish("w.npz")


def _write(tmp_path, steps: int, weights: int = 1):
    from rapid_mlir.ir_io import module_text

    module, weights = _chain(steps, weights=weights)
    weights.save(tmp_path / "w.npz")
    src = tmp_path / "chain.mlir"
    src.write_text(module_text(module))
    return src


def test_the_clause_round_trips_through_text_and_json():
    m = Mapping.from_text(RESIDENT)
    assert m.resident == ("rhs",)
    assert Mapping.from_text(m.to_text()) == m
    assert Mapping.from_dict(json.loads(m.to_json())) == m
    assert "resident" not in Mapping.from_text(RESIDENT.replace(" resident(rhs)", "")).to_dict()


def test_only_a_weight_loaded_once_can_stay():
    p = P.matmul("rec", 1, 1, 256, 256)
    assert loads_once(p, Mapping.from_text(RESIDENT), "rhs")
    assert not loads_once(p, Mapping.from_text(STEPPED), "rhs")
    with pytest.raises(MappingError, match=r"layer 'rec': resident\(rhs\) needs every corelet to hold its "
                                           r"whole share of rhs in one LX tile, but lx\(b=1\), lx\(k=128\)"):
        check_resident(p, Mapping.from_text(STEPPED))
    with pytest.raises(MappingError, match=r"resident\(lhs\): only the weight operand \(rhs\)"):
        check_resident(p, dataclasses.replace(Mapping.from_text(RESIDENT), resident=("lhs",)))
    with pytest.raises(MappingError, match=r"resident\(x\) names no operand of the layer"):
        dataclasses.replace(Mapping.from_text(RESIDENT), resident=("x",)).validate(p)


def test_reserved_bytes_are_every_corelets_share_of_the_weight():
    p, machine = P.matmul("rec", 1, 1, 256, 256), load_machine("rapid-4c")
    # n = 256 over 4 cores and 2 corelets: 32 columns x 256 rows of f16 per corelet, two per core
    assert reserved_bytes(p, Mapping.from_text(RESIDENT), machine) == 2 * 32 * 256 * 2


def test_the_cost_model_leaves_the_resident_load_out():
    p, machine = P.matmul("rec", 1, 1, 256, 256), load_machine("rapid-4c")
    resident = Mapping.from_text(RESIDENT)
    ordinary = dataclasses.replace(resident, resident=())
    with_load, without = predict(p, ordinary, machine), predict(p, resident, machine)
    assert with_load.dram_to_lx_bytes - without.dram_to_lx_bytes == 256 * 256 * 2
    assert without.cycles < with_load.cycles
    assert dse.lower_bound(p, resident, machine) < dse.lower_bound(p, ordinary, machine)
    assert dse.lower_bound(p, resident, machine) <= without.cycles


def test_the_resident_search_only_offers_resident_candidates():
    p, machine = P.matmul("rec", 1, 1, 256, 256), load_machine("rapid-4c")
    result = dse.search(p, machine, resident=("rhs",))
    assert result.best.resident == ("rhs",) and result.bound_violations == 0
    assert result.best_cost < dse.search(p, machine).best_cost


def _compile(src, tmp_path, *extra):
    from rapid_mlir.tools.rapidc import main as rapidc

    dump = tmp_path / f"maps{len(extra)}.json"
    out = tmp_path / "chain.mem.mlir"
    assert rapidc([str(src), "--emit", "mem", "-o", str(out), "--dump-mappings", str(dump), *extra]) == 0
    return out.read_text(), json.loads(dump.read_text())


def test_dse_keeps_a_shared_weight_in_lx_and_only_the_first_kernel_loads_it(tmp_path):
    src = _write(tmp_path, 6)
    text, maps = _compile(src, tmp_path)
    recs = [name for name in maps if name.endswith(".rec")]
    assert len(recs) == 6 and all(maps[r].get("resident") == ["rhs"] for r in recs)
    # Every corelet of every kernel has its share at one offset, at the top of LX.
    allocs = [line for line in text.splitlines() if "resident" in line and "rapid_mem.alloc" in line]
    where = {}  # key -> offsets
    for line in allocs:
        where.setdefault(line.split('resident "')[1].split('"')[0], []).append(int(line.split(" at ")[1].split()[0]))
    assert all(len(offsets) == 6 and len(set(offsets)) == 1 for offsets in where.values())
    reserved = reserved_bytes(P.matmul("t0.rec", 1, 1, 256, 256), Mapping.from_dict(maps["t0.rec"]),
                              load_machine("rapid-4c"))
    assert min(o[0] for o in where.values()) == 2 * 1024 * 1024 - reserved
    # Only the first kernel loads the weight (one DMA per corelet from the global).
    assert _weight_loads(text) == len(where)
    # The fixed strategy never does this (it is the baseline).
    fixed, fixed_maps = _compile(src, tmp_path, "--mapping", "fixed")
    assert "resident" not in fixed and _weight_loads(fixed) >= 6


def _weight_loads(text: str) -> int:
    """DMA transfers from the 256 x 256 weight in DRAM."""
    return sum(1 for line in text.splitlines()
               if "rapid_mem.dma" in line and "!rapid_mem.buffer<256x256xf16, dram>" in line)


def test_resident_weights_run_right_and_faster_on_the_emulator(tmp_path):
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.reference.signature import find_entry, random_inputs, signature
    from rapid_mlir.runtime import load
    from rapid_mlir.weights import WeightStore

    src = _write(tmp_path, 6)
    _, maps = _compile(src, tmp_path)
    ordinary = {name: {k: v for k, v in m.items() if k != "resident"} for name, m in maps.items()}
    pin = tmp_path / "ordinary.json"
    pin.write_text(json.dumps(ordinary))
    inputs = random_inputs(signature(find_entry(read_module(str(src)))), 3)
    expected = run(read_module(str(src)), inputs, WeightStore.load(tmp_path / "w.npz"))["y"]
    cycles = {}
    for label, pins in (("resident", None), ("ordinary", str(pin))):
        program = compile_module(read_module(str(src)), "rapid-4c", pins, str(tmp_path / "w.npz"))
        result = load(program).run(inputs, check_races=True)
        np.testing.assert_allclose(result.outputs["y"], expected, rtol=0, atol=0.02)
        cycles[label] = result.cycles
    assert cycles["resident"] < 0.8 * cycles["ordinary"]


def test_a_short_group_stays_ordinary_when_residency_does_not_pay(tmp_path):
    # Two steps of a product with a 512 KiB weight: holding each corelet's share whole in
    # LX costs the first kernel more (69,042 predicted cycles against 55,319 streaming
    # it) than it saves the second (46,372).
    from rapid_mlir.mapping.residency import group_mapping

    p, machine = P.matmul("rec", 1, 512, 256, 1024), load_machine("rapid-4c")
    best = dse.search(p, machine).best
    assert group_mapping(p, machine, 2, best, dse.default_cost, 1.0) == (best, False)


def test_overlapping_groups_that_do_not_fit_fail_when_pinned_and_are_dropped_by_dse(tmp_path, capsys):
    from rapid_mlir.tools.rapidc import main as rapidc

    src = _write(tmp_path, 6, weights=2)  # w0, w1, w0, w1, ...: both kept across the same kernels
    small = tmp_path / "small.toml"
    small.write_text('base = "rapid-4c"\nlx_bytes = 65536\n')
    # Each weight takes 32 KiB of a core's 64 KiB: a step of one does not fit next to the other.
    pin = tmp_path / "pin.json"
    pin.write_text(json.dumps({f"t{t}.rec": Mapping.from_text(RESIDENT).to_dict() for t in range(6)}))
    out = tmp_path / "never.mlir"
    assert rapidc([str(src), "--emit", "mem", "--machine", str(small), "--pin", str(pin), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert ("layer 't1.rec' does not fit LX next to the resident weights kept across it (32768 bytes per "
            "core, pinned): its tiles need 33920 bytes of LX and 32768 are left") in err
    assert not out.exists()
    # Unpinned, dse keeps at most what fits; every kernel is allocated within LX.
    dump = tmp_path / "maps.json"
    assert rapidc([str(src), "--emit", "mem", "--machine", str(small), "-o", str(out),
                   "--dump-mappings", str(dump)]) == 0
    kept = {tuple(m.get("resident", ())) for name, m in json.loads(dump.read_text()).items() if ".rec" in name}
    assert len([m for name, m in json.loads(dump.read_text()).items() if m.get("resident")]) <= 3
    assert kept <= {("rhs",), ()}


def test_dumped_resident_mappings_feed_back_to_the_same_program(tmp_path):
    from rapid_mlir.tools.rapidc import main as rapidc

    src = _write(tmp_path, 4)
    dump, first, again = tmp_path / "maps.json", tmp_path / "a.rbin", tmp_path / "b.rbin"
    assert rapidc([str(src), "-o", str(first), "--dump-mappings", str(dump)]) == 0
    assert any(m.get("resident") for m in json.loads(dump.read_text()).values())
    assert rapidc([str(src), "-o", str(again), "--mapping", str(dump)]) == 0
    assert first.read_bytes() == again.read_bytes()


def test_a_conv_weight_kept_in_lx_runs_right(tmp_path):
    """Three convolutions reading one weight, pinned resident(weight): only the first loads it."""
    from rapid_mlir.dialects import nn
    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.ir_io import module_text, parse_module
    from rapid_mlir.mapping import space
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.reference.signature import find_entry, random_inputs, signature
    from rapid_mlir.runtime import load

    g = GraphBuilder()
    x = g.input("x", [1, 8, 10, 10])
    w = g.constant("w", np.random.default_rng(1).standard_normal((8, 8, 3, 3)).astype(np.float32) / 8)
    for i in range(3):
        x = g.add(nn.ReluOp(g.add(nn.Conv2DOp(x, w, None, pads=(1, 1, 1, 1)), f"conv{i}")))
    g.output("y", x)
    module, weights = g.finish("w.npz")
    weights.save(tmp_path / "w.npz")
    text = module_text(module)
    problem, machine = P.conv2d("conv0", (1, 8, 10, 10), (8, 8, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1), \
        load_machine("rapid-4c")
    mapping = dse.search(problem, machine, resident=("weight",)).best
    assert mapping.resident == ("weight",) and space.is_legal(problem, mapping, machine)
    pin = tmp_path / "pin.json"
    pin.write_text(json.dumps({f"conv{i}": mapping.to_dict() for i in range(3)}))
    src = tmp_path / "convs.mlir"
    src.write_text(text)
    mem, _ = _compile(src, tmp_path, "--mapping", str(pin))
    loads = [line for line in mem.splitlines()
             if "rapid_mem.dma" in line and "!rapid_mem.buffer<8x8x3x3xf16, dram>" in line]
    regions = {line.split('resident "')[1].split('"')[0] for line in mem.splitlines() if 'resident "' in line}
    assert len(loads) == len(regions) > 0  # the first conv's corelets load it, the others do not
    from rapid_mlir.weights import WeightStore

    inputs = random_inputs(signature(find_entry(parse_module(text))), 2)
    expected = run(parse_module(text), inputs, WeightStore.load(tmp_path / "w.npz"))["y"]
    lowered = parse_module(text)
    program = compile_module(lowered, "rapid-4c", str(pin), str(tmp_path / "w.npz"), strategy="fixed")
    result = load(program).run(inputs, check_races=True)
    np.testing.assert_allclose(result.outputs["y"], expected, rtol=0, atol=0.02 * (float(np.abs(expected).max()) + 1))


def _two_products(tmp_path):
    """first = x @ w1 (128 x 256 x 256), second = first @ w2 (a 256 x 512 weight)."""
    from rapid_mlir.dialects import nn
    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.ir_io import module_text

    rng = np.random.default_rng(0)
    g = GraphBuilder()
    x = g.input("x", [128, 256])
    w1 = g.constant("w1", rng.standard_normal((256, 256)).astype(np.float32) / 16)
    w2 = g.constant("w2", rng.standard_normal((256, 512)).astype(np.float32) / 16)
    g.output("z", g.add(nn.MatmulOp(g.add(nn.MatmulOp(x, w1), "first"), w2), "second"))
    module, weights = g.finish("w.npz")
    weights.save(tmp_path / "w.npz")
    src = tmp_path / "two.mlir"
    src.write_text(module_text(module))
    return src


def test_the_kernel_before_prefetches_a_weight_when_the_model_says_it_pays(tmp_path):
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.mapping.residency import can_prefetch, group_mapping
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.reference.signature import find_entry, random_inputs, signature
    from rapid_mlir.runtime import load
    from rapid_mlir.weights import WeightStore

    machine = load_machine("rapid-4c")
    first, second = P.matmul("first", 1, 128, 256, 256), P.matmul("second", 1, 128, 512, 256)
    loader = dse.search(first, machine).best
    ordinary = dse.search(second, machine).best
    mapping, prefetched = group_mapping(second, machine, 1, ordinary, dse.default_cost, 1.0, loader=(first, loader))
    assert prefetched and mapping.resident == ("rhs",) and can_prefetch(first, loader, second, mapping)
    # The pass decides the same; the first kernel loads w2 (a resident buffer on its store
    # queue), the second does not load it.
    src = _two_products(tmp_path)
    text, maps = _compile(src, tmp_path)
    assert maps["first"].get("prefetch") is True and maps["second"].get("resident") == ["rhs"]
    kernels = text.split('rapid_mem.kernel "')
    first_kernel = next(k for k in kernels if k.startswith("first"))
    second_kernel = next(k for k in kernels if k.startswith("second"))
    assert "resident" in first_kernel and "!rapid_mem.buffer<256x512xf16, dram>" in first_kernel
    assert not [line for line in second_kernel.splitlines()
                if "rapid_mem.dma" in line and "!rapid_mem.buffer<256x512xf16, dram>" in line]
    # Emulated: right, and faster than the same layers without the prefetch.
    pin = tmp_path / "ordinary.json"
    pin.write_text(json.dumps({"first": loader.to_dict(), "second": ordinary.to_dict()}))
    weights = str(tmp_path / "w.npz")
    inputs = random_inputs(signature(find_entry(read_module(str(src)))), 4)
    expected = run(read_module(str(src)), inputs, WeightStore.load(weights))["z"]
    cycles = {}
    for label, pins in (("prefetch", None), ("ordinary", str(pin))):
        result = load(compile_module(read_module(str(src)), "rapid-4c", pins, weights)).run(inputs, check_races=True)
        np.testing.assert_allclose(result.outputs["z"], expected, rtol=0, atol=0.02 * float(np.abs(expected).max()))
        cycles[label] = result.cycles
    # 19,618 against 19,818 cycles (19,953 against 21,834 before convert-mem-to-isa's pair-loop
    # synchronisation fix sped up the ordinary second kernel)
    assert cycles["prefetch"] < cycles["ordinary"]


def test_a_prefetch_needs_a_resident_next_kernel(tmp_path, capsys):
    from rapid_mlir.tools.rapidc import main as rapidc

    src = _two_products(tmp_path)
    machine = load_machine("rapid-4c")
    loader = dataclasses.replace(dse.search(P.matmul("first", 1, 128, 256, 256), machine).best, prefetch=True)
    pin = tmp_path / "pin.json"
    pin.write_text(json.dumps({"first": loader.to_dict()}))
    assert rapidc([str(src), "--emit", "mem", "--mapping", str(pin)]) == 1
    assert ("layer 'first': prefetch: the next kernel keeps no weight in LX (its mapping has no resident(...))"
            in capsys.readouterr().err)


def test_search_stats_say_which_weights_stay_and_who_loads_them(tmp_path, capsys):
    from rapid_mlir.tools.rapidc import main as rapidc

    assert rapidc([str(_write(tmp_path, 6)), "--emit", "tile", "--search-stats"]) == 0
    err = capsys.readouterr().err
    assert "convert-nn-to-tile: dse t0.rec: weight kept in LX for 6 layers (loaded by the first)" in err
    assert "convert-nn-to-tile: dse t0.rec (resident rhs, 6 layers): " in err
    assert rapidc([str(_two_products(tmp_path)), "--emit", "tile", "--search-stats"]) == 0
    assert "convert-nn-to-tile: dse second: weight kept in LX for 1 layer (prefetched by first)" in \
        capsys.readouterr().err


def test_a_loader_that_does_not_fit_next_to_the_prefetched_weight_is_refused(tmp_path, capsys):
    """The LX a prefetched weight takes is reserved from its loader on: a pinned loader whose
    own tiles leave no room for it fails the pass, naming the loader."""
    from rapid_mlir.mapping import space
    from rapid_mlir.mapping.footprint import footprint
    from rapid_mlir.tools.rapidc import main as rapidc

    src = _two_products(tmp_path)
    small = tmp_path / "small.toml"
    small.write_text('base = "rapid-4c"\nlx_bytes = 262144\n')
    machine = load_machine(str(small))
    first, second = P.matmul("first", 1, 128, 256, 256), P.matmul("second", 1, 128, 512, 256)
    resident = dse.search(second, machine, resident=("rhs",)).best
    room = machine.lx_bytes - reserved_bytes(second, resident, machine)
    big = next(m for m in space.candidates(first, machine)
               if footprint(first, m, machine).lx_bytes > room and "k" not in m.cores)
    pin = tmp_path / "pin.json"
    pin.write_text(json.dumps({"first": dataclasses.replace(big, prefetch=True).to_dict(),
                               "second": resident.to_dict()}))
    assert rapidc([str(src), "--emit", "mem", "--machine", str(small), "--mapping", str(pin)]) == 1
    assert "layer 'first' does not fit LX next to the resident weights kept across it" in capsys.readouterr().err
