"""What a run reports: statistics, a Chrome trace-event file and a text trace.

Statistics (`build_stats`) are plain JSON-ready data: total cycles, instructions, MACs,
MPE utilisation (useful MACs / (cycles x machine.peak_macs_per_cycle)), bytes moved per
level and, per stream, instructions, busy cycles and stall cycles by cause.

The Chrome trace (`chrome_trace`) opens in Perfetto (ui.perfetto.dev, "Open trace
file") or chrome://tracing: one process per core, one thread per stream, one complete
event ("ph": "X") per executed instruction named by its mnemonic (a host call by the
layer it runs: "host transpose_0"), plus a slice for every time a stream was blocked
("wait s1", "barrier 0"). Timestamps are microseconds at the machine's clock; the cycle
values are kept in each event's args.
"""

from __future__ import annotations

from rapid_mlir.emulator.loader import MPE


def _stream_key(st) -> str:
    return f"core{st.core}.{st.name}"


def build_stats(emu) -> dict:
    """The statistics of a finished run (see docs/emulator.md, "Statistics")."""
    m = emu.machine
    cycles = emu.cycles or 0
    counters = dict(emu.counters)
    macs = counters.pop("macs")
    streams = {}
    for st in emu.streams:
        stalls = {"semaphore": st.stall_sem, "barrier": st.stall_barrier, "bandwidth": st.stall_bw}
        streams[_stream_key(st)] = {
            "core": st.core,
            "stream": st.name,
            "instructions": st.n,
            "busy_cycles": st.busy,
            "stall_cycles": stalls,
            "idle_cycles": max(0, cycles - st.busy - sum(stalls.values())),
            "halted_at": st.end if st.halted else None,
            "utilization": st.busy / cycles if cycles else 0.0,
        }
    return {
        "machine": m.name,
        "clock_ghz": m.clock_ghz,
        "cycles": cycles,
        "time_us": cycles / (m.clock_ghz * 1000.0),
        "instructions": sum(st.n for st in emu.streams),
        "macs": macs,
        "mpe_utilization": macs / (cycles * m.peak_macs_per_cycle) if cycles else 0.0,
        "race_check": emu.races is not None,
        "host": dict(emu.host_stats),
        "bytes": counters,
        "streams": streams,
    }


def host_layer(emu, code, pc: int) -> str | None:
    """The layer a `host N` instruction runs (its manifest entry's), else None."""
    if pc >= len(code.instrs) or code.instrs[pc].mnemonic != "host":
        return None
    index = code.instrs[pc].operands["entry"]
    ops = emu.program.host_ops
    return ops[index].layer if 0 <= index < len(ops) else None


def _events(emu) -> list[tuple]:
    if emu.trace_events is None:
        raise ValueError("no trace was recorded: create the emulator with trace=True")
    return sorted(emu.trace_events, key=lambda e: (e[0], e[2], e[3]))


def _meta(what: str, pid: int, tid: int, **args) -> dict:
    """A metadata event (names and sort order of processes and threads)."""
    return {"ph": "M", "name": what, "pid": pid, "tid": tid, "args": args}


def chrome_trace(emu) -> dict:
    """The run as Chrome trace-event JSON data."""
    us_per_cycle = 1.0 / (emu.machine.clock_ghz * 1000.0)
    names = emu.machine.streams_per_core
    out: list[dict] = []
    for core in sorted({st.core for st in emu.streams}):
        out.append(_meta("process_name", core, 0, name=f"core {core}"))
        out.append(_meta("process_sort_index", core, 0, sort_index=core))
    for st in emu.streams:
        tid = names.index(st.name)
        out.append(_meta("thread_name", st.core, tid, name=st.name))
        out.append(_meta("thread_sort_index", st.core, tid, sort_index=tid))
    by_gsi = emu.by_gsi
    for t, dur, gsi, pc, name, extra in _events(emu):
        st = by_gsi[gsi]
        code = st.code
        args = {"text": code.text(pc), "pc": pc, "cycles": int(dur), "start_cycle": int(t)}
        if name is None:
            name = code.instrs[pc].mnemonic if pc < len(code.instrs) else "end"
            origin = code.origin(pc)
            if origin is not None:
                args["origin"] = str(origin)
            compiled = code.code[pc] if pc < len(code.code) else None
            if compiled is not None and compiled[0] == MPE:
                args["macs"] = compiled[1].macs
            layer = host_layer(emu, code, pc)
            if layer is not None:  # a host call: named by the layer the host runs
                name = f"host {layer}"
                args["layer"] = layer
            cat = "instruction"
        else:
            cat = "stall"
        if extra:
            args.update(extra)
        out.append({"ph": "X", "name": name, "cat": cat, "pid": st.core, "tid": names.index(st.name),
                    "ts": t * us_per_cycle, "dur": dur * us_per_cycle, "args": args})
    return {"traceEvents": out, "displayTimeUnit": "ns",
            "otherData": {"machine": emu.machine.name, "clock_ghz": emu.machine.clock_ghz,
                          "cycles": emu.cycles}}


def text_trace(emu) -> str:
    """One line per executed instruction, in time order: `cycle core stream duration text`."""
    lines = [f"# {'cycle':>10}  {'core':>4}  {'stream':<6}  {'duration':>8}  instruction"]
    by_gsi = emu.by_gsi
    for t, dur, gsi, pc, name, _ in _events(emu):
        if name is not None:
            continue  # stall slices are not instructions
        st = by_gsi[gsi]
        text = st.code.text(pc)
        layer = host_layer(emu, st.code, pc)
        if layer is not None:
            text += f"  ; {layer} on the host"
        lines.append(f"  {int(t):>10}  {st.core:>4}  {st.name:<6}  {int(dur):>8}  {text}")
    return "\n".join(lines) + "\n"
