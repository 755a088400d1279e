"""`simulate`: every corelet's schedule timed together, the DRAM shared over time.

Runs all the corelets' operation lists (`schedule.Op`) in one event loop, as the
emulator runs their instruction streams: every engine (a DMA queue, the MPE, the SFU of
one corelet) takes its operations in program order; an operation starts when its engine
is free and the operations it waits for are done, a wait on another engine costing
`sync` cycles (the `wait`/`signal` pair). A DMA transfer takes its fixed latency, then
moves its bytes through one processor-sharing server, the emulator's `BandwidthServer`
for the DRAM: `rate` bytes per cycle, split equally at every moment among the transfers
in it, whichever corelet or core issued them. The transfer leaves the server at that
exact time and its queue goes on at the next whole cycle (the emulator's rounding).

Why over time and not on average: when cores drift out of phase (unequal shares, a
ragged last step, one core's loads meeting another's compute), how many transfers
share the DRAM changes from step to step. Averages over the whole layer (each queue's
duty cycle) missed by up to 7% either way, and ranked close mappings the wrong way
round (docs/costmodel.md, "Shared DRAM").

The cost is one heap event per transfer and a few list operations per other operation;
corelets with equal lists run as one (`copies`).
"""

from __future__ import annotations

import heapq
import math

from rapid_mlir.cost.schedule import LOAD, MPE, STORE, Op, Timing

_EPS = 1e-9
"""Relative slack when comparing a transfer's finish tag with the server's virtual time."""


class _Server:
    """Processor sharing in floats, through virtual time: `v` is the bytes each active
    transfer has received so far; a transfer joining at `v` with `b` bytes is done when
    `v` reaches its tag `v + b`. The emulator's `emulator.timing.BandwidthServer` does
    the same in exact rationals, too slow for a search's thousands of candidates; this
    one also lets one transfer stand for `weight` identical ones (`simulate`'s `copies`),
    and `test_simulate.py` checks the two agree."""

    __slots__ = ("active", "rate", "t", "v", "version", "weight", "weights")

    def __init__(self, rate: float):
        self.rate = rate
        self.active: list[tuple[float, int]] = []  # heap of (tag, transfer id)
        self.weights: dict[int, int] = {}  # transfer id -> how many identical transfers it stands for
        self.weight = 0  # transfers in the server
        self.v = 0.0
        self.t = 0.0
        self.version = 0

    def advance(self, now: float) -> None:
        if self.weight and now > self.t:
            self.v += (now - self.t) * self.rate / self.weight
        self.t = max(self.t, now)

    def join(self, now: float, nbytes: float, ident: int, weight: int) -> None:
        self.advance(now)
        heapq.heappush(self.active, (self.v + nbytes, ident))
        self.weights[ident] = weight
        self.weight += weight
        self.version += 1

    def pop_done(self, now: float) -> list[int]:
        """The transfers done at `now`, the one with the smallest tag at least (`now` is
        its completion time, whatever rounding says)."""
        self.advance(now)
        done = [heapq.heappop(self.active)[1]] if self.active else []
        limit = self.v + _EPS * max(1.0, self.v)
        while self.active and self.active[0][0] <= limit:
            done.append(heapq.heappop(self.active)[1])
        for ident in done:
            self.weight -= self.weights.pop(ident)
        self.version += 1
        return done

    def next_completion(self) -> float | None:
        if not self.active:
            return None
        return self.t + (self.active[0][0] - self.v) * self.weight / self.rate


def simulate(lists: list[list[Op]], rate: float, sync: int = 1, copies: list[int] | None = None) -> list[Timing]:
    """The `Timing` of each of `lists` (one corelet's operations each, engines private to
    the list) when all run at once and their DMA bytes share `rate` bytes per cycle;
    `copies[l]`: how many corelets run list `l` (default one each).

    Corelets with the same operations that start together stay in step -- processor
    sharing treats their transfers alike -- so one list stands for all its copies: each
    of its transfers counts `copies` times in the server. That is exact, and makes the
    common case (every corelet alike) as cheap as one corelet."""
    copies = copies or [1] * len(lists)
    # flat numbering: op (l, i) -> base(l) + i. Per op: the previous op of its engine and
    # its dependences on other engines (one on its own engine is an earlier op of it, so
    # never later than the previous one); `users`: whom its end may make ready.
    offsets, ops = [], []
    for lst in lists:
        offsets.append(len(ops))
        ops.extend(lst)
    n = len(ops)
    weight = [c for lst, c in zip(lists, copies) for _ in lst]
    prev = [-1] * n
    deps: list[list[int]] = [[] for _ in range(n)]
    users: list[list[int]] = [[] for _ in range(n)]
    waiting = [0] * n
    for li, lst in enumerate(lists):
        base = offsets[li]
        last: dict[str, int] = {}
        for i, op in enumerate(lst):
            k = base + i
            e = op.engine
            p = last.get(e, -1)
            last[e] = k
            if p >= 0:
                prev[k] = p
                users[p].append(k)
            cross = [base + d for d in op.deps if lst[d].engine != e]
            deps[k] = cross
            for d in cross:
                users[d].append(k)
            waiting[k] = len(cross) + (p >= 0)
    transfer = [op.nbytes > 0 and op.kind in (LOAD, STORE) for op in ops]
    start = [0.0] * n
    end = [0.0] * n
    server = _Server(rate)
    events: list[tuple[float, int, int]] = []  # (time, kind, ident or server version)
    JOIN, SERVER = 0, 1
    heappush, heappop = heapq.heappush, heapq.heappop

    def settle(ready: list[int]) -> None:
        """Starts the ready operations and, with their ends, every one they make ready; a
        transfer's end is the server's to say: it only joins (an event)."""
        while ready:
            i = ready.pop()
            p = prev[i]
            s = end[p] if p >= 0 else 0.0
            ds = deps[i]
            if ds:
                x = max([end[d] for d in ds]) + sync
                if x > s:
                    s = x
            start[i] = s
            if transfer[i]:
                heappush(events, (s + ops[i].cycles, JOIN, i))
                continue
            end[i] = s + ops[i].cycles
            for u in users[i]:
                waiting[u] -= 1
                if not waiting[u]:
                    ready.append(u)

    # Every end found while handling an event at time t is at least t (it follows from
    # that event), so joins are always pushed at or after the server's present.
    settle([k for k in range(n) if not waiting[k]])
    while events:
        t, kind, x = heappop(events)
        if kind == JOIN:
            server.join(t, ops[x].nbytes, x, weight[x])
        elif x == server.version:
            ready = []
            done_at = math.ceil(t - _EPS * max(1.0, t))  # the stream goes on at the next whole cycle
            for i in server.pop_done(t):
                end[i] = done_at
                for u in users[i]:
                    waiting[u] -= 1
                    if not waiting[u]:
                        ready.append(u)
            settle(ready)
        else:
            continue  # a stale completion: the server changed since
        nxt = server.next_completion()
        if nxt is not None:
            heappush(events, (max(nxt, t), SERVER, server.version))
    if any(waiting):
        raise ValueError("simulate: a dependence cycle among the operations")
    return [_timing(lists[li], offsets[li], start, end) for li in range(len(lists))]


def _timing(lst: list[Op], base: int, start: list[float], end: list[float]) -> Timing:
    """One list's end, busy cycles per engine (a compute operation's own cycles, exact; a
    transfer's latency and bytes phase), first MPE start, last MPE end and bytes."""
    busy: dict[str, float] = {}
    nbytes = {LOAD: 0, STORE: 0}
    first_mpe, last_mpe = None, 0.0
    for i, op in enumerate(lst):
        k = base + i
        if op.kind in (LOAD, STORE):
            busy[op.engine] = busy.get(op.engine, 0.0) + (end[k] - start[k])
            nbytes[op.kind] += op.nbytes
        else:
            busy[op.engine] = busy.get(op.engine, 0.0) + op.cycles
        if op.kind == MPE:
            first_mpe = start[k] if first_mpe is None else first_mpe
            last_mpe = end[k]
    return Timing(max(end[base:base + len(lst)], default=0.0), busy, first_mpe or 0.0, last_mpe, nbytes)
