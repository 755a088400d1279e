"""The race detector's shadow memory (runs over per-slot arrays, DRAM in pages) against a
plain slot-by-slot model of the same happens-before rules, on random access sequences."""

import itertools

import numpy as np
import pytest

from rapid_mlir.backend.isa import AccessPattern, DType, Space
from rapid_mlir.emulator import races
from rapid_mlir.emulator.errors import RaceError
from rapid_mlir.emulator.memory import MemorySpace, Region
from rapid_mlir.emulator.races import STREAM_BITS, RaceTracker

NBYTES = 2048


class Stream:
    def __init__(self, gsi, n):
        self.gsi = gsi
        self.vc = np.zeros(n, dtype=np.int64)
        self.vc[gsi] = 1
        self.key = 1 << STREAM_BITS | gsi


class Model:
    """Slot -> [writer key, reader key]; the rules of races.py, one slot at a time.
    `access` returns None or the set of race kinds the access commits."""

    def __init__(self):
        self.slots = {}

    def access(self, st, slots, read, write):
        def conflict(key):
            other = key & 0xFFFF
            return other != st.gsi and (key >> STREAM_BITS) > st.vc[other]

        kinds = set()
        for s in slots:
            w, r = self.slots.get(s, (0, 0))
            if conflict(w):
                kinds.add("read-after-write" if read else "write-after-write")
            if write and r and conflict(r):
                kinds.add("write-after-read")
        if kinds:
            return kinds
        for s in slots:
            w, r = self.slots.get(s, (0, 0))
            self.slots[s] = (st.key, 0) if write else (w, st.key)
        return None


def touched_slots(region, first):
    slots = set()
    for idx in itertools.product(*(range(n) for n in region.shape)):
        addr = first + sum(i * b for i, b in zip(idx, region.bstrides))
        for byte in range(addr, addr + region.itemsize):
            slots.add(byte >> 1)
    return slots


def random_region(rng):
    dtype = DType.F16 if rng.random() < 0.6 else DType.F32
    kind = rng.integers(4)
    if kind == 0:  # dense row-major tile
        shape = tuple(int(x) for x in rng.integers(1, 6, size=rng.integers(1, 3)))
        dims, stride = [], 1
        for size in reversed(shape):
            dims.append((size, stride))
            stride *= size
        dims = tuple(reversed(dims))
    else:  # anything: strided, negative, zero strides
        dims = tuple((int(rng.integers(1, 5)), int(rng.integers(-6, 7))) for _ in range(rng.integers(1, 4)))
    ap = AccessPattern(Space.LX, dtype, dims)
    region = Region.of("x", ap, "x")
    span = region.ext_hi - region.ext_lo
    first = int(rng.integers(-region.ext_lo, NBYTES - region.ext_hi + 1)) if span < NBYTES else None
    if first is not None and rng.random() < 0.3:
        first = first - (first & 1)  # mostly odd and even alike; sometimes force even
    return region, first


@pytest.mark.parametrize("paged", [False, True])
@pytest.mark.parametrize("seed", range(12))
def test_shadow_memory_matches_the_slot_model(monkeypatch, paged, seed):
    if paged:
        monkeypatch.setattr(races, "PAGE_SLOTS", 96)  # accesses straddle pages
    rng = np.random.default_rng(seed)
    space = MemorySpace(Space.DRAM if paged else Space.LX, "mem", NBYTES)

    class Mem:
        def spaces(self):
            return [space]

    tracker = RaceTracker(Mem(), [f"s{i}" for i in range(3)])
    streams = [Stream(i, 3) for i in range(3)]
    model = Model()
    pending = []  # clocks in flight: (target stream, clock)
    seen = {"dense": 0, "strided": 0, "races": 0}
    for step in range(400):
        st = streams[int(rng.integers(3))]
        op = rng.random()
        if op < 0.15:  # signal another stream
            target = streams[int(rng.integers(3))]
            pending.append((target, tracker.release(st)))
            continue
        if op < 0.3 and pending:
            target, clock = pending.pop(int(rng.integers(len(pending))))
            tracker.acquire(target, clock)
            continue
        region, first = random_region(rng)
        if first is None:
            continue
        seen["dense" if region.dense else "strided"] += 1
        read, write = [(True, False), (False, True), (True, True)][int(rng.integers(3))]
        slots = touched_slots(region, first)
        want = model.access(st, slots, read, write)
        try:
            tracker.access(st, space, region, first, read, write)
            got = None
        except RaceError as e:
            got = e.kind
        where = f"step {step}: dense={region.dense} dims={region.shape}"
        assert (got is None and want is None) or got in want, where
        if got is not None:
            # Order the stream after everything and redo the access: both must accept it
            # (a failed access may have stamped some slots, with the same key).
            seen["races"] += 1
            for other in streams:
                tracker.acquire(st, other.vc)
            assert model.access(st, slots, read, write) is None
            tracker.access(st, space, region, first, read, write)
    assert seen["races"] >= 3 and seen["dense"] >= 20 and seen["strided"] >= 20, seen
