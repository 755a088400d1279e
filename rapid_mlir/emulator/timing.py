"""How long each instruction takes, in core clock cycles.

The formulas are the `timing` strings of `rapid_mlir.backend.isa.INSTRUCTIONS`, written
as code; every figure comes from the `Machine`:

* control instructions (nop, halt, li, addi, loop, wait, signal, barrier):
  `scalar_cycles` (plus any time blocked in wait or barrier, counted as a stall);
* `mpe.mm` / `mpe.mma`: `mpe_fill_drain_cycles + ceil(m / mpe_rows) * ceil(n / mpe_cols)
  * ceil(k / mpe_simd)` with `m = mo * mi`;
* SFU: `sfu_latency_cycles + ceil(elements / sfu_lanes)`, the second term times
  `sfu_transcendental_factor` for the transcendental instructions (`InstrSpec.transcendental`);
  elements are dst elements, src elements for reductions and dst elements x window
  elements for pooling;
* `dma.copy`: a latency (`dram_latency_cycles` when DRAM is involved, else
  `hops * ring_hop_cycles`), then its bytes through a bandwidth server shared equally by
  all transfers in flight (`BandwidthServer`).

Durations of compute instructions depend only on their shapes, so the loader computes
them once per instruction; DMA completion times come from the servers at run time.
"""

from __future__ import annotations

import math
from fractions import Fraction
from math import gcd

from rapid_mlir.backend.isa import INSTRUCTIONS


def exact(value: float) -> Fraction:
    """A machine figure as an exact fraction of its decimal text (1.6 -> 8/5, not the
    nearest binary double), so that rates like dram_gbps / clock_ghz are exact."""
    return Fraction(repr(float(value))) if isinstance(value, float) else Fraction(value)


def mpe_cycles(machine, m: int, n: int, k: int) -> int:
    """isa `mpe.mm` timing: fill/drain once, then one array pass per (rows, cols, simd) block."""
    passes = (math.ceil(m / machine.mpe_rows) * math.ceil(n / machine.mpe_cols)
              * math.ceil(k / machine.mpe_simd))
    return machine.mpe_fill_drain_cycles + passes


def sfu_cycles(machine, mnemonic: str, elements: int) -> int:
    """isa SFU timing: pipeline latency plus one cycle per `sfu_lanes` elements,
    `sfu_transcendental_factor` times slower for transcendental instructions."""
    beats = math.ceil(elements / machine.sfu_lanes)
    if INSTRUCTIONS[mnemonic].transcendental:
        beats *= machine.sfu_transcendental_factor
    return machine.sfu_latency_cycles + beats


def ring_hops(machine, a: int, b: int) -> int:
    """Shortest distance between cores a and b on the bidirectional ring of `cores`."""
    d = abs(a - b) % machine.cores
    return min(d, machine.cores - d)


def dram_rate(machine) -> Fraction:
    """DRAM bytes per cycle of the whole chip (`dram_gbps / clock_ghz`), exactly."""
    return exact(machine.dram_gbps) / exact(machine.clock_ghz)


class Transfer:
    """One DMA transfer's bytes phase in a bandwidth server."""

    __slots__ = ("stream", "start", "nbytes", "latency", "fn", "fd", "trace_args")

    def __init__(self, stream, start: int, nbytes: int, latency: int):
        self.stream = stream
        self.start = start
        self.nbytes = nbytes
        self.latency = latency
        self.fn, self.fd = 0, 1  # finish tag (virtual time at which its last byte is served)
        self.trace_args = None


def _reduced(n: int, d: int) -> tuple[int, int]:
    g = gcd(n, d)
    return (n // g, d // g) if g > 1 else (n, d)


class BandwidthServer:
    """A processor-sharing server: `rate` bytes per cycle split equally among the
    transfers currently in it.

    Exact, in integer arithmetic on rationals (numerator, denominator), through the
    server's *virtual time* V: the bytes each active transfer has received so far, which
    grows at `rate / n` while n transfers are active. A transfer joining at V finishes
    when V reaches its finish tag `V + bytes`, whatever joins or leaves meanwhile, so
    every join or departure only re-derives when the smallest tag will be reached.
    Completion times are exact `Fraction`s; nothing depends on how events are batched.
    """

    def __init__(self, name: str, rate: Fraction):
        rate = Fraction(rate)
        self.name = name
        self.rate = rate
        self.p, self.q = rate.numerator, rate.denominator
        self.active: list[Transfer] = []
        self.vn, self.vd = 0, 1  # virtual time V
        self.tn, self.td = 0, 1  # real time of the last update
        self.version = 0  # bumped on every change, so stale completion events are ignored

    def _advance(self, now) -> None:
        tn, td = now.numerator, now.denominator
        n = len(self.active)
        dn = tn * self.td - self.tn * td
        if n and dn:
            # V += (now - last) * p / (q * n)
            a, b = dn * self.p, td * self.td * self.q * n
            self.vn, self.vd = _reduced(self.vn * b + a * self.vd, self.vd * b)
        self.tn, self.td = tn, td

    def join(self, now, transfer: Transfer) -> None:
        """`transfer` starts moving its bytes at time `now` (an int or a Fraction)."""
        self._advance(now)
        transfer.fn, transfer.fd = _reduced(self.vn + transfer.nbytes * self.vd, self.vd)
        self.active.append(transfer)
        self.version += 1

    def finish(self, now) -> list[Transfer]:
        """Removes and returns the transfers whose bytes are all moved at `now`."""
        self._advance(now)
        vn, vd = self.vn, self.vd
        done = [tr for tr in self.active if tr.fn * vd <= vn * tr.fd]
        if done:
            self.active = [tr for tr in self.active if tr.fn * vd > vn * tr.fd]
        self.version += 1
        return done

    def next_completion(self) -> Fraction | None:
        """When the first active transfer finishes if nothing joins before then."""
        if not self.active:
            return None
        first = self.active[0]
        for tr in self.active[1:]:
            if tr.fn * first.fd < first.fn * tr.fd:
                first = tr
        # now + (F - V) * q * n / p
        rn, rd = first.fn * self.vd - self.vn * first.fd, first.fd * self.vd
        k = self.q * len(self.active)
        return Fraction(self.tn * rd * self.p + rn * k * self.td, self.td * rd * self.p)

    def alone_cycles(self, nbytes: int) -> int:
        """Whole cycles to move `nbytes` with the server to itself."""
        return -(-nbytes * self.q // self.p)
