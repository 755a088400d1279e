"""`Device`: one emulated chip that programs are loaded onto and launched.

A device is bound to a machine description. Loading a program (a `Program` or the bytes
of an `.rbin`) checks that it was built for that machine and that every stream is legal;
each launch then starts from fresh device memory: the program's data segments (weights)
are placed in DRAM, the named inputs written at their symbols' addresses (converted to
the symbol's element type, f16 in the machine's 16-bit format), every stream runs to its
halt, and the named outputs are read back as float32 arrays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from rapid_mlir.backend.program import Program, TensorSymbol
from rapid_mlir.emulator import Emulator
from rapid_mlir.emulator.loader import load_program
from rapid_mlir.emulator.memory import decode_array, encode_array


class DeviceError(ValueError):
    """A problem with what was given to the device: unknown, missing or ill-shaped inputs,
    launching with nothing loaded."""


@dataclass
class RunResult:
    """What a launch produced."""

    outputs: dict[str, np.ndarray]
    """Every output tensor by name, float32, in its symbol's shape."""
    cycles: int
    """Total cycles: when the last stream halted."""
    stats: dict
    """The emulator's statistics (docs/emulator.md, "Statistics")."""
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    """The inputs as the device held them (float32, rounded to each symbol's type)."""
    seed: int | None = None
    """The seed of the random inputs, or None when inputs were given."""
    trace: dict | None = None
    """Chrome trace-event JSON data (`{"traceEvents": [...]}`) when traced."""
    text_trace: str | None = None
    """One line per executed instruction, when traced."""

    @property
    def trace_events(self) -> list[dict]:
        return [] if self.trace is None else self.trace["traceEvents"]


def _resolve_machine(machine):
    if machine is None or not isinstance(machine, (str, os.PathLike)):
        return machine
    from rapid_mlir.machine import load_machine

    return load_machine(machine)


def _describe(sym: TensorSymbol) -> str:
    return f"{sym.dtype.name.lower()} {list(sym.shape)}"


def random_inputs(program: Program, seed: int) -> dict[str, np.ndarray]:
    """Standard-normal float32 values for every input of `program`, from `seed`."""
    rng = np.random.default_rng(seed)
    return {s.name: rng.standard_normal(s.shape, dtype=np.float32) for s in program.inputs()}


class Device:
    """An emulated chip of machine `machine` (a `Machine`, a preset name or a machine file;
    None: the machine each loaded program was built for)."""

    def __init__(self, machine=None):
        self.machine = _resolve_machine(machine)
        self.program: Program | None = None
        self._loaded_program = None
        self._inputs: dict[str, np.ndarray] = {}

    def load(self, program: Program | bytes | bytearray) -> Device:
        """Loads a program (or `.rbin` bytes) built for this device's machine; returns self."""
        if isinstance(program, (bytes, bytearray, memoryview)):
            from rapid_mlir.backend.rbin import read_rbin

            program = read_rbin(bytes(program), self.machine)
        if not isinstance(program, Program):
            raise DeviceError(f"cannot load a {type(program).__name__}: give a Program or .rbin bytes")
        self._loaded_program = load_program(program, self.machine)  # checks and compiles once
        self.program = program
        self.machine = self._loaded_program.machine
        self._inputs = {}
        return self

    def _loaded(self) -> Program:
        if self.program is None:
            raise DeviceError("no program is loaded on this device (call load first)")
        return self.program

    def write_inputs(self, inputs: dict) -> None:
        """Checks and stores named inputs for the next launch: every input of the program,
        no other names, each of its symbol's shape; numbers are converted to the symbol's
        element type."""
        program = self._loaded()
        known = {s.name: s for s in program.inputs()}
        outputs = {s.name for s in program.outputs()}
        for name in inputs:
            if name not in known:
                what = "an output, not an input" if name in outputs else "not an input of the program"
                raise DeviceError(f"'{name}' is {what}; the program's inputs are: "
                                  f"{_names(known.values())}")
        missing = [s for s in known.values() if s.name not in inputs]
        if missing:
            raise DeviceError("missing input " + ", ".join(f"'{s.name}' ({_describe(s)})" for s in missing)
                              + f"; the program's inputs are: {_names(known.values())}")
        fmt = self.machine.fp16_format
        converted = {}
        for name, sym in known.items():
            value = np.asarray(inputs[name])
            if value.dtype.kind not in "fiub":
                raise DeviceError(f"input '{name}' holds {value.dtype} values; give real numbers "
                                  f"(converted to {sym.dtype.name.lower()})")
            if tuple(value.shape) != tuple(sym.shape):
                raise DeviceError(f"input '{name}' has shape {list(value.shape)} but the program "
                                  f"expects {_describe(sym)}")
            data = encode_array(value.astype(np.float32), sym.dtype, fmt)
            converted[name] = decode_array(data, sym.dtype, sym.shape, fmt)
        self._inputs = converted

    def launch(self, *, check_races: bool = True, trace: bool = False) -> RunResult:
        """Runs the loaded program on the inputs given to `write_inputs`."""
        program = self._loaded()
        if len(self._inputs) != len(program.inputs()):
            self.write_inputs(self._inputs)  # reports the missing inputs
        emu = Emulator(self._loaded_program, check_races=check_races, trace=trace)
        for name, value in self._inputs.items():
            emu.write_tensor(name, value)
        stats = emu.run()
        outputs = {s.name: emu.read_tensor(s.name) for s in program.outputs()}
        return RunResult(outputs, emu.cycles, stats, dict(self._inputs), None,
                         emu.chrome_trace() if trace else None, emu.text_trace() if trace else None)

    def run(self, inputs: dict | None = None, *, seed: int = 0, check_races: bool = True,
            trace: bool = False) -> RunResult:
        """`write_inputs(inputs)` then `launch()`; without inputs, seeded random ones
        (standard normal, `random_inputs(program, seed)`), and the result records the seed."""
        program = self._loaded()
        self.write_inputs(random_inputs(program, seed) if inputs is None else inputs)
        result = self.launch(check_races=check_races, trace=trace)
        if inputs is None:
            result.seed = seed
        return result


def _names(symbols) -> str:
    names = [s.name for s in symbols]
    return ", ".join(names) if names else "(none)"


def load(program: Program | bytes, machine=None) -> Device:
    """A device of `machine` (default: the program's own) with `program` loaded."""
    return Device(machine).load(program)

