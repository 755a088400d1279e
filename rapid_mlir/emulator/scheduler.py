"""The event-driven engine: every stream of every core, in deterministic simulated time.

Each stream runs its instructions in order. Time is counted in core cycles; events are
processed in `(time, kind, core, stream index)` order, where bandwidth-server and signal
deliveries come before stream steps at the same time, so a run is a pure function of
the program, its inputs and the machine.

An instruction's functional effect is applied at its *start* time; because streams only
order their accesses through semaphores and barriers, a race-free program gets the same
results as hardware would (and the race checker, `races.py`, rejects the others).

Control instructions that only touch a stream's own registers (nop, li, addi, loop) run
back to back in a tight loop without touching the event queue; a stream yields only
before an instruction that interacts with others (memory, semaphores, barriers) when
another stream or event is due earlier.

* `wait sN` blocks while the core's semaphore N is 0; `signal sN [@core]` increments it,
  at once on the own core, `hops * ring_hop_cycles` later on another core.
* `barrier`: the k-th barrier of a stream name (e.g. dma0) completes when that stream of
  every core that has it in the program has reached its k-th barrier.
* `dma.copy` waits `latency` cycles, then moves its bytes through a `BandwidthServer`
  (DRAM or ring); the stream is busy until the transfer completes (rounded up to a cycle).
* `host N` runs entry N of the host-op manifest on the host (`host.py`); the stream is
  busy for `host_call_cycles` plus its bytes over the host link (`backend.host.link_bytes`).
* The total cycle count is when the last stream has executed its `halt`.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from rapid_mlir.backend.isa import Space
from rapid_mlir.backend.program import Program
from rapid_mlir.emulator import loader as L
from rapid_mlir.emulator import trace as reports
from rapid_mlir.emulator.loader import ADDI, LI, LOOP, SCALAR_END
from rapid_mlir.emulator.errors import DeadlockError, EmulatorError, StreamEndError
from rapid_mlir.emulator.memory import Memory, decode_array, encode_array
from rapid_mlir.emulator.races import STREAM_BITS, RaceTracker
from rapid_mlir.emulator.semantics import dma_copy, mpe_matmul, sfu_apply
from rapid_mlir.emulator.timing import BandwidthServer, Transfer, dram_rate, exact

BLOCK, HALTED, ASYNC = -1, -2, -3
EV_JOIN, EV_DONE, EV_SIGNAL = 0, 1, 2


class StreamState:
    """One stream's architectural state (pc, registers, loop stack) and counters."""

    __slots__ = ("code", "gsi", "core", "name", "corelet", "ops", "pc", "regs", "loops", "t",
                 "halted", "end", "blocked_since", "block", "barriers", "barrier_release",
                 "vc", "key", "n", "busy", "stall_sem", "stall_barrier", "stall_bw", "label")

    def __init__(self, code: L.StreamCode, registers: int):
        self.code = code
        self.gsi, self.core, self.name, self.corelet = code.gsi, code.core, code.name, code.corelet
        self.ops = code.code
        self.label = f"core {code.core} stream {code.name}"
        self.pc = 0
        self.regs = [0] * registers
        self.loops: list[list[int]] = []  # [end pc, first pc, iterations left]
        self.t = 0
        self.halted = False
        self.end = 0
        self.blocked_since = None
        self.block = None  # ("semaphore", sem) or ("barrier", k)
        self.barriers = 0  # barriers reached so far
        self.barrier_release = False
        self.vc = None
        self.key = 0
        self.n = 0
        self.busy = 0
        self.stall_sem = 0
        self.stall_barrier = 0
        self.stall_bw = 0


def _after(loops: list[list[int]], pc: int) -> int:
    """The pc after executing the instruction before `pc`, taking loop back-edges."""
    while loops and pc == loops[-1][0]:
        top = loops[-1]
        if top[2] > 1:
            top[2] -= 1
            return top[1]
        loops.pop()
    return pc


class Emulator:
    """Runs one program on one machine.

    `Emulator(program, machine=None, check_races=True, trace=False)` checks and compiles
    the program (`loader`; a `loader.LoadedProgram` is used as is), places its data
    segments in DRAM and is ready to `run()`. Inputs are written with `write_tensor`
    before, outputs read with `read_tensor` after. `run()` returns the statistics
    (`stats()`); `chrome_trace()` and `text_trace()` give the traces when built with
    `trace=True`. An emulator runs its program once.
    """

    def __init__(self, program: Program | L.LoadedProgram, machine=None, *, check_races: bool = True,
                 trace: bool = False):
        loaded = L.load_program(program, machine)
        program, machine = loaded.program, loaded.machine
        self.program = program
        self.machine = machine
        self.streams = [StreamState(c, machine.registers) for c in loaded.streams]
        self.by_gsi = {st.gsi: st for st in self.streams}
        self.memory = Memory(machine)
        for seg in program.data:
            self.memory.write_bytes(seg.address, seg.data)
        self.races = None
        if check_races:
            per_core = machine.streams_per_core
            names = [f"core {g // len(per_core)} stream {per_core[g % len(per_core)]}"
                     for g in range(machine.cores * len(per_core))]
            self.races = RaceTracker(self.memory, names)
            for st in self.streams:
                st.vc = self.races.new_clock(st.gsi)
                st.key = 1 << STREAM_BITS | st.gsi
        self.sc = machine.scalar_cycles
        self.sems = [[0] * machine.semaphores for _ in range(machine.cores)]
        self.sem_clocks: dict[tuple[int, int], deque] = {}
        self.waiters: dict[tuple[int, int], list[StreamState]] = {}
        cores_of: dict[str, list[int]] = {}
        for st in self.streams:
            cores_of.setdefault(st.name, []).append(st.core)
        self.barrier_cores = cores_of
        self.arrived: dict[tuple[str, int], list[StreamState]] = {}
        self.dram = BandwidthServer("dram", dram_rate(machine))
        self.ring = BandwidthServer("ring", exact(machine.ring_bytes_per_cycle))
        self.heap: list[tuple] = []
        self.seq = 0
        self.trace_events: list[tuple] | None = [] if trace else None
        self.counters = dict.fromkeys(
            ("macs", "dram_to_lx", "lx_to_dram", "lx_to_lx", "lx_read_by_compute",
             "lx_written_by_compute", "acc_read", "acc_written"), 0)
        self.host_stats = dict.fromkeys(("calls", "cycles", "bytes_to_host", "bytes_from_host"), 0)
        self.cycles: int | None = None
        handlers = {L.HALT: self._halt, L.WAIT: self._wait, L.SIGNAL: self._signal,
                    L.BARRIER: self._barrier, L.DMA: self._dma, L.MPE: self._mpe,
                    L.SFU: self._sfu, L.HOST: self._host, L.END: self._end}
        self._handlers = [handlers.get(op) for op in range(L.END + 1)]  # by compiled opcode

    # Tensors ----------------------------------------------------------------------------------

    def write_tensor(self, name: str, values: np.ndarray) -> None:
        """Writes a named input (or any symbol) into DRAM, converted to its element type."""
        sym = self.program.symbol(name)
        self.memory.write_bytes(sym.address, encode_array(values, sym.dtype, self.machine.fp16_format))

    def read_tensor(self, name: str) -> np.ndarray:
        """A named tensor's current DRAM contents as float32 of its shape."""
        sym = self.program.symbol(name)
        data = self.memory.read_bytes(sym.address, sym.nbytes)
        return decode_array(data, sym.dtype, sym.shape, self.machine.fp16_format)

    def write_memory(self, space: Space, address: int, dtype, values, core: int = 0,
                     corelet: int = 0) -> None:
        """Writes float values contiguously into any memory (before a run; for tests and
        debugging): `space` DRAM, LX of `core` or ACC of (`core`, `corelet`)."""
        data = encode_array(np.asarray(values, dtype=np.float32), dtype, self.machine.fp16_format)
        target = self.memory.space(space, core, corelet)
        target.buf[address:address + len(data)] = np.frombuffer(data, dtype=np.uint8)
        target.cache.clear()

    def read_memory(self, space: Space, address: int, dtype, shape, core: int = 0,
                    corelet: int = 0) -> np.ndarray:
        """Reads a contiguous float32 array of `shape` from any memory."""
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        buf = self.memory.space(space, core, corelet).buf
        data = buf[address:address + nbytes].tobytes()
        return decode_array(data, dtype, tuple(shape), self.machine.fp16_format)

    # Running ----------------------------------------------------------------------------------

    def run(self) -> dict:
        """Runs every stream to its halt. Returns `stats()`; raises an EmulatorError on a
        fault, a race or a deadlock."""
        if self.cycles is not None:
            raise EmulatorError("this emulator has already run its program; load it again to rerun")
        for st in self.streams:
            heapq.heappush(self.heap, (0, 1, st.gsi, None))
        old = np.seterr(all="ignore")  # inf / NaN results are values, as on the hardware
        try:
            self._loop()
        finally:
            np.seterr(**old)
        blocked = [st for st in self.streams if not st.halted]
        if blocked:
            self._deadlock(blocked)
        self.cycles = max((st.end for st in self.streams), default=0)
        return self.stats()

    def _loop(self) -> None:
        heap, pop, by_gsi = self.heap, heapq.heappop, self.by_gsi
        while heap:
            t, prio, key, payload = pop(heap)
            if prio:
                st = by_gsi[key]
                try:
                    self._run(st, t)
                except EmulatorError as e:
                    if e.located:
                        raise
                    raise e.relocated(self.where(st)) from None
            else:
                self._event(t, payload)

    def where(self, st: StreamState) -> str:
        """`core C stream S pc P (TEXT) at cycle T`: where an error happened."""
        return f"{st.label} pc {st.pc} ({st.code.text(st.pc)}) at cycle {st.t}"

    def _push_event(self, t, payload) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, 0, self.seq, payload))

    def _run(self, st: StreamState, t: int) -> None:
        """Runs stream `st` from time `t` until it blocks, halts, starts a DMA or another
        stream is due first."""
        ops, regs, loops, pc = st.ops, st.regs, st.loops, st.pc
        loop_end = loops[-1][0] if loops else -1
        heap, gsi, sc, trace = self.heap, st.gsi, self.sc, self.trace_events
        handlers = self._handlers
        n = busy = 0
        while True:
            ins = ops[pc]
            op = ins[0]
            if op < SCALAR_END:
                if op == ADDI:
                    regs[ins[1]] = regs[ins[2]] + ins[3]
                elif op == LI:
                    regs[ins[1]] = ins[2]
                elif op == LOOP:
                    loop_end = pc + 1 + ins[2]
                    loops.append([loop_end, pc + 1, ins[1]])
                if trace is not None:
                    trace.append((t, sc, gsi, pc, None, None))
                t += sc
                busy += sc
            else:
                if heap:
                    top = heap[0]
                    if t > top[0] or (t == top[0] and (top[1] == 0 or top[2] < gsi)):
                        st.pc, st.t = pc, t
                        heapq.heappush(heap, (t, 1, gsi, None))
                        break
                st.pc, st.t = pc, t
                d = handlers[op](st, ins, t)
                if d < 0:
                    if d == ASYNC:  # a DMA in flight: its completion resumes the stream
                        n += 1
                        st.pc = _after(loops, pc + 1)
                    elif d == HALTED:
                        n += 1
                        busy += sc
                    break
                if trace is not None:
                    trace.append((t, d, gsi, pc, None, None))
                t += d
                busy += d
            n += 1
            pc += 1
            while pc == loop_end:
                top_loop = loops[-1]
                if top_loop[2] > 1:
                    top_loop[2] -= 1
                    pc = top_loop[1]
                    break
                loops.pop()
                loop_end = loops[-1][0] if loops else -1
        st.n += n
        st.busy += busy

    # Control instructions -------------------------------------------------------------------

    def _end(self, st, ins, t):
        raise StreamEndError(f"{st.label} ran past its last instruction ({len(st.code.instrs)} "
                             f"instructions) without halt")

    def _halt(self, st, ins, t):
        st.halted = True
        st.end = t + self.sc
        if self.trace_events is not None:
            self.trace_events.append((t, self.sc, st.gsi, st.pc, None, None))
        return HALTED

    def _stall_done(self, st, t, cause: str, name: str) -> None:
        stall = t - st.blocked_since
        if cause == "semaphore":
            st.stall_sem += stall
        else:
            st.stall_barrier += stall
        if self.trace_events is not None and stall > 0:
            self.trace_events.append((st.blocked_since, stall, st.gsi, st.pc, name, None))
        st.blocked_since = None
        st.block = None

    def _wait(self, st, ins, t):
        """isa `wait`: block until sem[core][sem] > 0, then sem[core][sem] -= 1."""
        sem = ins[1]
        counts = self.sems[st.core]
        if counts[sem] > 0:
            counts[sem] -= 1
            if self.races is not None:
                self.races.acquire(st, self.sem_clocks[(st.core, sem)].popleft())
            if st.blocked_since is not None:
                self._stall_done(st, t, "semaphore", f"wait s{sem}")
            return self.sc
        if st.blocked_since is None:
            st.blocked_since = t
            st.block = ("semaphore", sem)
        self.waiters.setdefault((st.core, sem), []).append(st)
        return BLOCK

    def _signal(self, st, ins, t):
        """isa `signal`: sem[core][sem] += 1, visible after ring_hop_cycles per hop when remote."""
        _, sem, target, delay = ins
        clock = self.races.release(st) if self.races is not None else None
        if delay == 0:
            self._deliver(target, sem, clock, t)
        else:
            self._push_event(t + delay, (EV_SIGNAL, target, sem, clock))
        return self.sc

    def _deliver(self, core: int, sem: int, clock, t) -> None:
        self.sems[core][sem] += 1
        if clock is not None:
            self.sem_clocks.setdefault((core, sem), deque()).append(clock)
        waiting = self.waiters.pop((core, sem), None)
        if waiting:
            for w in waiting:
                heapq.heappush(self.heap, (t, 1, w.gsi, None))

    def _barrier(self, st, ins, t):
        """isa `barrier`: block until the same stream of every core has reached its k-th barrier."""
        if st.barrier_release:
            st.barrier_release = False
            self._stall_done(st, t, "barrier", f"barrier {st.barriers - 1}")
            return self.sc
        k = st.barriers
        st.barriers += 1
        group = self.arrived.setdefault((st.name, k), [])
        group.append(st)
        if len(group) < len(self.barrier_cores[st.name]):
            st.blocked_since = t
            st.block = ("barrier", k)
            return BLOCK
        del self.arrived[(st.name, k)]
        if self.races is not None:
            self.races.barrier(group)
        for other in group:
            if other is not st:
                other.barrier_release = True
                heapq.heappush(self.heap, (t, 1, other.gsi, None))
        return self.sc

    # Data instructions ----------------------------------------------------------------------

    def _mpe(self, st, ins, t):
        op = ins[1]
        mpe_matmul(self.memory, self.races, st, op)
        c = self.counters
        c["macs"] += op.macs
        c["lx_read_by_compute"] += op.a.nbytes + op.b.nbytes
        c["acc_written"] += op.c.nbytes
        if op.accumulate:
            c["acc_read"] += op.c.nbytes
        return op.duration

    def _sfu(self, st, ins, t):
        op = ins[1]
        sfu_apply(self.memory, self.races, st, op)
        c = self.counters
        for src in op.srcs:
            c["lx_read_by_compute" if src.space is Space.LX else "acc_read"] += src.nbytes
        c["lx_written_by_compute" if op.dst.space is Space.LX else "acc_written"] += op.dst.nbytes
        return op.duration

    def _host(self, st, ins, t):
        """isa `host`: the host runs manifest entry N (emulator/host.py); the stream waits."""
        from rapid_mlir.emulator.host import run_host_call

        call = ins[1]
        run_host_call(self.memory, self.races, st, call)
        h = self.host_stats
        h["calls"] += 1
        h["cycles"] += call.duration
        h["bytes_to_host"] += call.bytes_in
        h["bytes_from_host"] += call.bytes_out
        return call.duration

    def _dma(self, st, ins, t):
        op = ins[1]
        dma_copy(self.memory, self.races, st, op)
        c = self.counters
        if op.from_dram:
            c["dram_to_lx"] += op.nbytes
        elif op.to_dram:
            c["lx_to_dram"] += op.nbytes
        else:
            c["lx_to_lx"] += op.nbytes
        tr = Transfer(st, t, op.nbytes, op.latency)
        tr.trace_args = (st.pc, op)
        server = self.dram if (op.from_dram or op.to_dram) else self.ring
        self._push_event(t + op.latency, (EV_JOIN, server, tr))
        return ASYNC

    # Events ----------------------------------------------------------------------------------

    def _event(self, t, payload) -> None:
        kind = payload[0]
        if kind == EV_SIGNAL:
            _, core, sem, clock = payload
            self._deliver(core, sem, clock, t)
            return
        server = payload[1]
        if kind == EV_JOIN:
            tr = payload[2]
            if tr.nbytes == 0:
                self._transfer_done(server, tr, t)
                return
            server.join(t, tr)
        else:
            if payload[2] != server.version:
                return  # superseded: the set of transfers changed since it was computed
            for tr in server.finish(t):
                self._transfer_done(server, tr, t)
        when = server.next_completion()
        if when is not None:
            self._push_event(when, (EV_DONE, server, server.version))

    def _transfer_done(self, server, tr: Transfer, t) -> None:
        st = tr.stream
        end = math.ceil(t)
        duration = end - tr.start
        alone = tr.latency + server.alone_cycles(tr.nbytes)
        stall = max(0, duration - alone)
        st.busy += duration - stall
        st.stall_bw += stall
        if self.trace_events is not None:
            pc, op = tr.trace_args
            args = {"bytes": op.nbytes, "over": "ring" if server is self.ring else "dram",
                    "latency_cycles": op.latency, "bandwidth_stall_cycles": stall}
            self.trace_events.append((tr.start, duration, st.gsi, pc, None, args))
        st.t = end
        heapq.heappush(self.heap, (end, 1, st.gsi, None))

    # Deadlock ---------------------------------------------------------------------------------

    def _deadlock(self, blocked: list[StreamState]) -> None:
        now = max(st.t for st in blocked)
        lines, report = [], []
        for st in blocked:
            what = self._waits_for(st)
            text = st.code.text(st.pc)
            report.append({"core": st.core, "stream": st.name, "pc": st.pc, "instruction": text,
                           "waits_for": what, "since": st.blocked_since})
            lines.append(f"  {st.label} pc {st.pc} ({text}): {what}, since cycle {st.blocked_since}")
        raise DeadlockError(f"deadlock at cycle {now}: no stream can make progress and "
                            f"{len(blocked)} have not halted:\n" + "\n".join(lines), report)

    def _waits_for(self, st: StreamState) -> str:
        kind, value = st.block
        if kind == "semaphore":
            return f"waits for semaphore s{value} on core {st.core} (value {self.sems[st.core][value]})"
        group = self.arrived.get((st.name, value), [])
        arrived = sorted(o.core for o in group)
        missing = []
        for c in self.barrier_cores[st.name]:
            if c not in arrived:
                other = self.by_gsi[st.gsi - (st.core - c) * len(self.machine.streams_per_core)]
                missing.append(f"{c} (halted)" if other.halted else str(c))
        return (f"waits at barrier {value} of stream {st.name} (arrived: cores "
                f"{', '.join(map(str, arrived))}; missing: cores {', '.join(missing)})")

    # Results ----------------------------------------------------------------------------------

    def stats(self) -> dict:
        """Cycle count, utilisation, per-stream figures and bytes per level."""
        return reports.build_stats(self)

    def chrome_trace(self) -> dict:
        """Chrome trace-event JSON data (`{"traceEvents": [...]}`); needs trace=True."""
        return reports.chrome_trace(self)

    def text_trace(self) -> str:
        """One line per executed instruction: `cycle core stream duration instruction`."""
        return reports.text_trace(self)
