"""Race detection: vector clocks per stream and shadow memory per 2-byte slot.

Happens-before between streams comes only from synchronisation: program order within
a stream, `signal` -> the `wait` that consumes it (the signaller's clock travels with
the semaphore count, first in first out) and `barrier` (all participants join their
clocks). Each stream `s` has a vector clock `vc_s` (one entry per stream of the chip);
`vc_s[s]` is its current *epoch*, incremented after every release (signal, barrier).
An access by `s` is stamped `key = epoch << 16 | s`.

Shadow memory keeps, per 2-byte slot of every memory, the key of the last writer and of
the last reader since that write (0 = none; the loader's writes count as none). An
access by stream `s` conflicts with a stamp (epoch e, stream t != s) when
`e > vc_s[t]`: t's access is not ordered before this one. Reads are checked against
the last writer (read-after-write); writes against the last writer (write-after-write)
and the last reader (write-after-read, which catches a producer refilling a buffer its
consumer has not finished with). A write clears the reader stamps: every earlier read
was checked to be ordered before it, so a later write ordered after it is ordered after
them too.

Only the slots an access really touches are examined. Two representations keep that
cheap: *runs*, sorted disjoint slot intervals whose writer and reader stamps are
uniform (what a dense tile access leaves behind: checking a tile against a run is one
comparison), and per-slot arrays for everything else, examined through the same
strided view that reads the data. A strided (non-dense) access first writes the runs
it overlaps back into the arrays. The arrays are one zero-initialised array per LX and
ACC, and 1 MiB pages allocated on first touch for DRAM.

Limitation (documented in docs/emulator.md): only the *last* reader of a slot is
remembered, so of two unordered readers followed by a writer ordered after only the
second, the race with the first is missed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np

from rapid_mlir.backend.isa import Space
from rapid_mlir.emulator.errors import RaceError
from rapid_mlir.emulator.memory import MemorySpace, Region

STREAM_BITS = 16
STREAM_MASK = (1 << STREAM_BITS) - 1
PAGE_BYTES = 1 << 20
PAGE_SLOTS = PAGE_BYTES // 2


class _Conflict(Exception):
    """Raised inside the checks; becomes a RaceError naming the slot and the other stream."""

    def __init__(self, slot: int, key: int, verb: str):
        super().__init__()
        self.slot, self.key, self.verb = slot, key, verb


class Shadow:
    """Writer and reader stamps of one memory space: runs over per-slot arrays."""

    def __init__(self, nbytes: int, paged: bool):
        self.nslots = (nbytes + 1) // 2
        self.paged = paged
        self.pages: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._w: np.ndarray | None = None  # unpaged stamps, allocated on first use
        self._r: np.ndarray | None = None
        self.starts: list[int] = []
        self.runs: list[list[int]] = []  # [start, end, writer key, reader key], sorted, disjoint

    # Per-slot arrays ----------------------------------------------------------------------

    @property
    def w(self) -> np.ndarray:
        """Writer stamps of an unpaged space."""
        if self._w is None:
            self._w = np.zeros(self.nslots, dtype=np.int64)
            self._r = np.zeros(self.nslots, dtype=np.int64)
        return self._w

    @property
    def r(self) -> np.ndarray:
        """Reader stamps of an unpaged space."""
        self.w  # noqa: B018 - allocates both
        return self._r

    def _page(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        page = self.pages.get(p)
        if page is None:
            n = min(PAGE_SLOTS, self.nslots - p * PAGE_SLOTS)
            page = self.pages[p] = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
        return page

    def pieces(self, lo: int, hi: int, create: bool = True) -> list[tuple]:
        """(writer array, reader array, start, end, slot of index 0) per array covering
        slots [lo, hi); without `create`, a DRAM page never touched gives (None, None, ...)
        (all its stamps are 0)."""
        if not self.paged:
            return [(self.w, self.r, lo, hi, 0)]
        out = []
        for p in range(lo // PAGE_SLOTS, (hi - 1) // PAGE_SLOTS + 1):
            w, r = self._page(p) if create or p in self.pages else (None, None)
            base = p * PAGE_SLOTS
            out.append((w, r, max(lo, base) - base, min(hi, base + PAGE_SLOTS) - base, base))
        return out

    def strided(self, region: Region, first: int) -> list[tuple]:
        """[(writer keys, reader keys, index, slot0)] covering every slot a non-dense region
        touches: strided views (index None) when they fit one array, else page arrays with
        an index array of slots. `slot0` is the slot number of the arrays' index 0."""
        sub = (region.itemsize + (first & 1) + 1) // 2  # slots per element
        shape = region.shape + (sub,)
        slot = first >> 1
        lo = (first + region.ext_lo) >> 1
        hi = ((first + region.ext_hi - 1) >> 1) + 1
        if not self.paged:
            return [(_view(self.w, slot, shape, region), _view(self.r, slot, shape, region), None, 0)]
        p = lo // PAGE_SLOTS
        if (hi - 1) // PAGE_SLOTS == p:
            w, r = self._page(p)
            local = slot - p * PAGE_SLOTS
            return [(_view(w, local, shape, region), _view(r, local, shape, region), None, p * PAGE_SLOTS)]
        index = np.int64(slot) + _offsets(region, sub)
        pages = index // PAGE_SLOTS
        out = []
        for q in np.unique(pages).tolist():
            w, r = self._page(q)
            out.append((w, r, index[pages == q] - q * PAGE_SLOTS, q * PAGE_SLOTS))
        return out

    # Runs ---------------------------------------------------------------------------------

    def overlapping(self, lo: int, hi: int) -> tuple[int, int]:
        """Indices [i0, i1) of the runs overlapping slots [lo, hi)."""
        i0 = bisect_right(self.starts, lo) - 1
        if i0 < 0 or self.runs[i0][1] <= lo:
            i0 += 1
        return i0, bisect_left(self.starts, hi)

    def materialize(self, lo: int, hi: int) -> None:
        """Writes the runs overlapping [lo, hi) into the per-slot arrays and drops them."""
        i0, i1 = self.overlapping(lo, hi)
        for start, end, wkey, rkey in self.runs[i0:i1]:
            for w, r, a, b, _ in self.pieces(start, end):
                w[a:b] = wkey
                r[a:b] = rkey
        del self.runs[i0:i1]
        del self.starts[i0:i1]

    def replace(self, lo: int, hi: int, i0: int, i1: int, new: list[list[int]], merge: bool) -> None:
        """Runs [i0, i1) overlap [lo, hi): keep their parts outside it, put `new` (runs
        inside [lo, hi)) in between, and with `merge` join equal neighbours. (Writes merge,
        so that a tensor written piece by piece becomes one run; reads do not, so that
        the tiles a compute engine reads again keep their own runs.)"""
        runs = self.runs
        seq = []
        if i1 > i0 and runs[i0][0] < lo:
            seq.append([runs[i0][0], lo, runs[i0][2], runs[i0][3]])
        seq += new
        if i1 > i0 and runs[i1 - 1][1] > hi:
            seq.append([hi, runs[i1 - 1][1], runs[i1 - 1][2], runs[i1 - 1][3]])
        if not merge:
            runs[i0:i1] = seq
            self.starts[i0:i1] = [run[0] for run in seq]
            return
        a, b = max(i0 - 1, 0), min(i1 + 1, len(runs))
        seq = runs[a:i0] + seq + runs[i1:b]
        merged: list[list[int]] = []
        for run in seq:
            if merged and merged[-1][1] == run[0] and merged[-1][2] == run[2] and merged[-1][3] == run[3]:
                merged[-1] = [merged[-1][0], run[1], run[2], run[3]]
            else:
                merged.append(run)
        runs[a:b] = merged
        self.starts[a:b] = [run[0] for run in merged]


def _view(arr: np.ndarray, slot: int, shape, region: Region) -> np.ndarray:
    return np.ndarray(shape, np.int64, buffer=arr, offset=slot * 8, strides=region.slot_strides)


def _offsets(region: Region, sub: int) -> np.ndarray:
    """Slot offsets (from element 0's slot) of every slot the region touches, flat."""
    total = np.zeros((), dtype=np.int64)
    for size, bstride in zip(region.shape, region.bstrides):
        total = np.add.outer(total, np.arange(size, dtype=np.int64) * (bstride // 2))
    return np.add.outer(total, np.arange(sub, dtype=np.int64)).ravel()


class RaceTracker:
    """Vector clocks of every stream, and the checks of every memory access."""

    def __init__(self, memory, stream_names: list[str]):
        self.names = stream_names  # by global stream index: "core 0 stream dma0"
        self.n = len(stream_names)
        for space in memory.spaces():
            space.shadow = Shadow(space.size, paged=space.kind is Space.DRAM)

    def new_clock(self, gsi: int) -> np.ndarray:
        vc = np.zeros(self.n, dtype=np.int64)
        vc[gsi] = 1
        return vc

    # Accesses -----------------------------------------------------------------------------

    def access(self, st, space: MemorySpace, region: Region, first: int, read: bool, write: bool) -> None:
        """Checks and records one operand access of stream `st` (with `gsi`, `vc`, `key`);
        `read` and `write` both for a read-modify-write (mpe.mma's C)."""
        if region.empty:
            return
        try:
            if region.dense:
                self._dense(st, space.shadow, region, first, write)
            else:
                self._strided(st, space.shadow, region, first, write)
        except _Conflict as c:
            other, epoch = c.key & STREAM_MASK, c.key >> STREAM_BITS
            kind = ("write-after-read" if c.verb == "read" else
                    "read-after-write" if read else "write-after-write")
            raise RaceError(
                f"{kind} race on {space.label} at byte {c.slot * 2:#x} (operand '{region.name}', "
                f"{region.text}): last {'read' if c.verb == 'read' else 'written'} by {self.names[other]} "
                f"(after {epoch - 1} of its signals/barriers), and no semaphore or barrier orders that "
                f"access before this one; signal after that access and wait before this one", kind) from None

    @staticmethod
    def _conflicts(st, key: int) -> bool:
        other = key & STREAM_MASK
        return other != st.gsi and (key >> STREAM_BITS) > st.vc[other]

    def _keys(self, st, keys: np.ndarray, verb: str, slot_of) -> int | None:
        """Checks an array of stamps; returns the common stamp if they are all equal."""
        kmin, kmax = int(keys.min()), int(keys.max())
        if kmin == kmax:
            if self._conflicts(st, kmin):
                raise _Conflict(slot_of(0), kmin, verb)
            return kmin
        others = keys & STREAM_MASK
        bad = ((keys >> STREAM_BITS) > st.vc[others]) & (others != st.gsi)
        if bad.any():
            flat = int(np.argmax(bad))
            raise _Conflict(slot_of(flat), int(keys.reshape(-1)[flat]), verb)
        return None

    def _dense(self, st, sh: Shadow, region: Region, first: int, write: bool) -> None:
        """A region covering every byte of its extent: checked against runs and slot ranges,
        and recorded as runs."""
        lo = (first + region.ext_lo) >> 1
        hi = ((first + region.ext_hi - 1) >> 1) + 1
        i0, i1 = sh.overlapping(lo, hi)
        key = st.key
        if i1 == i0 + 1 and sh.runs[i0][0] == lo and sh.runs[i0][1] == hi:  # the same tile again
            run = sh.runs[i0]
            if self._conflicts(st, run[2]):
                raise _Conflict(lo, run[2], "written")
            if write and run[3] and self._conflicts(st, run[3]):
                raise _Conflict(lo, run[3], "read")
            if write:
                run[2], run[3] = key, 0
            else:
                run[3] = key
            return
        new: list[list[int]] = []
        pos = lo
        for run in sh.runs[i0:i1]:
            if pos < run[0]:
                new += self._gap(st, sh, pos, run[0], write)
            start = max(pos, run[0])
            if self._conflicts(st, run[2]):
                raise _Conflict(start, run[2], "written")
            if write and run[3] and self._conflicts(st, run[3]):
                raise _Conflict(start, run[3], "read")
            new.append([start, min(run[1], hi), run[2], key])
            pos = run[1]
        if pos < hi:
            new += self._gap(st, sh, pos, hi, write)
        sh.replace(lo, hi, i0, i1, [[lo, hi, key, 0]] if write else new, merge=write)

    def _gap(self, st, sh: Shadow, lo: int, hi: int, write: bool) -> list[list[int]]:
        """Checks slots [lo, hi) held in the arrays; for a read, returns them as a run if
        their writer is uniform (else stamps the readers in place)."""
        uniform = []
        for w, r, a, b, base in sh.pieces(lo, hi, create=False):
            if w is None:  # an untouched DRAM page
                uniform.append(0)
                continue
            uniform.append(self._keys(st, w[a:b], "written", lambda i: base + a + i))
            if write:
                self._keys(st, r[a:b], "read", lambda i: base + a + i)
        if write:
            return []
        if uniform[0] is not None and all(u == uniform[0] for u in uniform):
            return [[lo, hi, uniform[0], st.key]]
        for w, r, a, b, _ in sh.pieces(lo, hi):
            r[a:b] = st.key
        return []

    def _strided(self, st, sh: Shadow, region: Region, first: int, write: bool) -> None:
        """Any other region: slot by slot, through a strided view of the arrays."""
        sh.materialize((first + region.ext_lo) >> 1, ((first + region.ext_hi - 1) >> 1) + 1)
        for w, r, index, slot0 in sh.strided(region, first):
            wk = w if index is None else w[index]
            self._keys(st, wk, "written", _slot_finder(w, wk, index, slot0))
            if write:
                rk = r if index is None else r[index]
                self._keys(st, rk, "read", _slot_finder(r, rk, index, slot0))
            if index is None:
                (w if write else r)[...] = st.key
                if write:
                    r[...] = 0
            else:
                (w if write else r)[index] = st.key
                if write:
                    r[index] = 0

    # Synchronisation ----------------------------------------------------------------------

    @staticmethod
    def release(st) -> np.ndarray:
        """The clock a signal carries; then the signaller enters a new epoch."""
        clock = st.vc.copy()
        st.vc[st.gsi] += 1
        st.key = int(st.vc[st.gsi]) << STREAM_BITS | st.gsi
        return clock

    @staticmethod
    def acquire(st, clock: np.ndarray) -> None:
        np.maximum(st.vc, clock, out=st.vc)

    @staticmethod
    def barrier(participants: list) -> None:
        """All participants see each other's past: join every clock, then new epochs."""
        joined = participants[0].vc.copy()
        for p in participants[1:]:
            np.maximum(joined, p.vc, out=joined)
        for p in participants:
            p.vc[...] = joined
            p.vc[p.gsi] += 1
            p.key = int(p.vc[p.gsi]) << STREAM_BITS | p.gsi


def _slot_finder(arr: np.ndarray, keys: np.ndarray, index, slot0: int):
    """Maps a flat position in `keys` back to its slot number."""
    def slot(flat: int) -> int:
        if index is not None:
            return slot0 + int(index[flat])
        multi = np.unravel_index(flat, keys.shape)
        base = (arr.__array_interface__["data"][0] - arr.base.__array_interface__["data"][0]) // 8
        return slot0 + base + sum(i * s // 8 for i, s in zip(multi, arr.strides))
    return slot
