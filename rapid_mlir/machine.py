"""The machine description: every hardware number the passes, assembler and emulator use.

A `Machine` is a frozen dataclass, checked when it is built. Nothing else in
rapid_mlir hard-codes a hardware figure: a pass that tiles for the scratchpad, the
assembler that range-checks a register number, and the emulator that charges cycles
for a DMA all read the same `Machine`. Binaries record `Machine.fingerprint()` so
that one built for another machine is refused.

Each field's docstring gives its unit and says whether it is a published fact (with
the source, as listed in `rapid-hardware.md`) or *assumed*, i.e. our choice for a
figure that is not public. `docs/machine.md` tabulates them.

Machines come from a preset (`PRESETS`, `DEFAULT_MACHINE`) or from a `.json` or
`.toml` file holding a flat table of fields, optionally starting from a preset
(`base = "rapid-4c"`); see `load_machine`.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

FP16_FORMATS = ("ieee", "dlfloat16")
"""Allowed values of `Machine.fp16_format`."""


class MachineError(ValueError):
    """A machine description is invalid: bad field value or type, unknown field,
    unknown preset, or a machine file that cannot be read or parsed."""


def _param(lo, hi, default: Any = dataclasses.MISSING, *, multiple_of: int | None = None,
           power_of_two: bool = False, is_bytes: bool = False):
    """A numeric field with its allowed closed range [lo, hi] and extra constraints."""
    meta = {"range": (lo, hi), "multiple_of": multiple_of, "power_of_two": power_of_two,
            "is_bytes": is_bytes}
    return field(default=default, metadata=meta)


def _choice(default: str, choices: tuple[str, ...]):
    """A string field restricted to `choices`."""
    return field(default=default, metadata={"choices": choices})


@dataclass(frozen=True)
class Machine:
    """One RaPiD-class machine: a chip of `cores` cores, each with `corelets_per_core`
    corelets that share one LX scratchpad, connected by a ring and sharing device DRAM.

    Build one with `Machine(name=..., cores=...)`, `load_machine(spec)`, a preset from
    `PRESETS`, or `dataclasses.replace(machine, field=value)`; all of them validate.
    """

    name: str
    """A short identifier (non-empty text), printed in reports and recorded in binaries."""

    cores: int = _param(1, 64)
    """Cores on the chip, 1..64. The 7 nm chip has 4 cores (ISSCC 2021 9.1); the ISCA 2021
    system is built of 32-core chips. Per-machine choice, no default."""

    corelets_per_core: int = _param(1, 4, 2)
    """Corelets per core, 1..4. Fact: two corelets share one scratchpad
    (VLSI Symposium 2020, Oh et al.)."""

    clock_ghz: float = _param(0.1, 5.0, 1.6)
    """Core clock in GHz, 0.1..5. *Assumed* (starting point 1.6 GHz; the 2018 core ran at
    1.5 GHz, VLSI Symposium 2018)."""

    dram_bytes: int = _param(1 * MiB, 16 * GiB, 256 * MiB, multiple_of=4096, is_bytes=True)
    """Size of the emulated device DRAM in bytes, 1 MiB..16 GiB, a multiple of 4096.
    *Assumed*."""

    dram_gbps: float = _param(1.0, 2000.0, 150.0)
    """DRAM bandwidth in GB/s (10^9 bytes/s) per chip, shared by all cores, 1..2000.
    *Assumed* (public starting point: 100-200 GB/s per chip)."""

    dram_latency_cycles: int = _param(0, 100_000, 300)
    """Cycles from issuing a DRAM access to its first byte, 0..100000. *Assumed*
    (a few hundred cycles)."""

    lx_bytes: int = _param(64 * KiB, 64 * MiB, 2 * MiB, is_bytes=True)
    """LX scratchpad per core in bytes, shared by its corelets, 64 KiB..64 MiB, a multiple
    of `stick_bytes`. Fact: 2 MB per core (torch-spyre docs)."""

    stick_bytes: int = _param(16, 1024, 128, power_of_two=True, is_bytes=True)
    """Unit of DRAM<->LX transfer ("stick") in bytes, a power of two 16..1024. Fact: 128 B,
    i.e. 64 fp16 values (torch-spyre docs)."""

    ring_bytes_per_cycle: int = _param(1, 4096, 128)
    """Ring interconnect bandwidth in bytes per cycle per direction, 1..4096. Fact: 128 B
    per cycle per direction of a bidirectional ring (torch-spyre docs)."""

    ring_hop_cycles: int = _param(0, 1000, 4)
    """Latency of one hop between neighbouring cores on the ring in cycles, 0..1000.
    *Assumed*."""

    mpe_rows: int = _param(1, 64, 8)
    """Rows of processing elements in a corelet's systolic array (MPE), 1..64. Fact: 8x8
    array of PEs (torch-spyre architecture docs)."""

    mpe_cols: int = _param(1, 64, 8)
    """Columns of processing elements in the MPE, 1..64. Fact: 8x8 (torch-spyre
    architecture docs)."""

    mpe_simd: int = _param(1, 64, 8)
    """fp16 multiply-accumulates per PE per cycle (SIMD width), 1..64. Derived from
    published figures, so strictly *assumed*: 2 corelets x 8x8 PEs x 8 x 2 FLOP x 1.5 GHz
    = 3.07 TFLOPS matches the 3.0 TFLOPS per core of VLSI Symposium 2020."""

    mpe_fill_drain_cycles: int = _param(0, 10_000, 16)
    """Cycles to fill and drain the systolic array, charged once per MPE instruction,
    0..10000. *Assumed*."""

    l0_a_bytes: int = _param(256, 1 * MiB, 16 * KiB, is_bytes=True)
    """Operand buffer (L0) per corelet holding the MPE's A tile, in bytes, 256 B..1 MiB,
    at least one mpe_rows x mpe_cols fp16 tile. *Assumed*."""

    l0_b_bytes: int = _param(256, 1 * MiB, 16 * KiB, is_bytes=True)
    """Operand buffer (L0) per corelet holding the MPE's B tile, in bytes, 256 B..1 MiB,
    at least one mpe_rows x mpe_cols fp16 tile. *Assumed*."""

    acc_bytes: int = _param(256, 16 * MiB, 64 * KiB, multiple_of=4, is_bytes=True)
    """Addressable fp32 accumulator buffer (L0) per corelet, in bytes, 256 B..16 MiB, a
    multiple of 4 and at least one mpe_rows x mpe_cols fp32 tile. *Assumed*."""

    sfu_lanes: int = _param(1, 1024, 32)
    """Elements the special function unit (SFU) processes per cycle per corelet, 1..1024.
    *Assumed* (public starting point: 16-32 lanes per corelet)."""

    sfu_latency_cycles: int = _param(0, 10_000, 8)
    """SFU pipeline fill charged once per SFU instruction, in cycles, 0..10000. *Assumed*."""

    sfu_transcendental_factor: int = _param(1, 64, 4)
    """How many times the cost of an add a transcendental SFU op (sigmoid, tanh, exp,
    erf, sqrt, reciprocal, log, divide) takes, 1..64. *Assumed* ("several times slower")."""

    scalar_cycles: int = _param(1, 100, 1)
    """Cycles of one control instruction (li, addi, loop, signal, wait, ...), 1..100.
    *Assumed*."""

    dma_queues: int = _param(1, 8, 2)
    """DMA instruction streams per core, 1..8. *Assumed* (2: one for loads, one for
    stores)."""

    semaphores: int = _param(1, 1024, 256)
    """Counting semaphores per core that streams signal and wait on, 1..1024. *Assumed*: 256,
    enough for the unrolled, double-buffered pipelines the compiler emits (it gives every
    cross-engine dependence its own semaphore)."""

    loop_depth: int = _param(1, 16, 4)
    """Nested hardware loops per instruction stream, 1..16. *Assumed*."""

    registers: int = _param(2, 256, 16)
    """Scalar address registers per instruction stream, 2..256; r0 always reads as 0.
    *Assumed*."""

    host_call_cycles: int = _param(0, 100_000_000, 16_000)
    """Cycles a `host N` call (an nn op run on the host, RaPiDLib's fallback) costs besides
    moving its tensors, 0..10^8: noticing that the device reached the call, the driver
    round trip and the host's compute. *Assumed*: 16000 cycles = 10 us at 1.6 GHz, the
    order of a launch/completion round trip of a PCIe-attached accelerator."""

    host_link_gbps: float = _param(0.1, 1000.0, 16.0)
    """Bandwidth between device DRAM and the host in GB/s (10^9 bytes/s), 0.1..1000: a host
    call moves the tensors it reads and writes at this rate. *Assumed*: 16 GB/s, a PCIe
    Gen4 x8 (or Gen3 x16) link."""

    fp16_format: str = _choice("ieee", FP16_FORMATS)
    """16-bit float format of the device: "ieee" (IEEE 754 binary16) or "dlfloat16"
    (1 sign, 6 exponent, 9 fraction bits; the format of RaPiD silicon, fact: IEEE SSCL
    2018, ARITH 2019). The default "ieee" is *assumed*, so results match NumPy's float16."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = _check_field(f, getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        self._check_cross_fields()

    def _check_cross_fields(self) -> None:
        if self.lx_bytes % self.stick_bytes:
            raise MachineError(f"machine field 'lx_bytes' = {self.lx_bytes} must be a multiple "
                               f"of stick_bytes = {self.stick_bytes}")
        fp16_tile = self.mpe_rows * self.mpe_cols * 2
        for name in ("l0_a_bytes", "l0_b_bytes"):
            if getattr(self, name) < fp16_tile:
                raise MachineError(
                    f"machine field '{name}' = {getattr(self, name)} is smaller than one "
                    f"{self.mpe_rows}x{self.mpe_cols} fp16 tile ({fp16_tile} bytes)")
        fp32_tile = self.mpe_rows * self.mpe_cols * 4
        if self.acc_bytes < fp32_tile:
            raise MachineError(f"machine field 'acc_bytes' = {self.acc_bytes} is smaller than one "
                               f"{self.mpe_rows}x{self.mpe_cols} fp32 tile ({fp32_tile} bytes)")

    # Derived quantities -------------------------------------------------------------

    @property
    def corelets(self) -> int:
        """Corelets on the whole chip (cores x corelets_per_core)."""
        return self.cores * self.corelets_per_core

    @property
    def macs_per_cycle_per_corelet(self) -> int:
        """fp16 multiply-accumulates one corelet's MPE completes per cycle at full rate."""
        return self.mpe_rows * self.mpe_cols * self.mpe_simd

    @property
    def peak_macs_per_cycle(self) -> int:
        """fp16 multiply-accumulates per cycle of all corelets of all cores."""
        return self.macs_per_cycle_per_corelet * self.corelets

    @property
    def dram_bytes_per_cycle(self) -> float:
        """DRAM bandwidth of the whole chip in bytes per core clock cycle."""
        return self.dram_gbps / self.clock_ghz

    @property
    def peak_tflops(self) -> float:
        """Peak fp16 throughput of the chip in TFLOPS (a MAC counts as 2 FLOP)."""
        return self.peak_macs_per_cycle * 2 * self.clock_ghz / 1000.0

    @property
    def host_link_bytes_per_cycle(self) -> float:
        """Host link bandwidth in bytes per core clock cycle."""
        return self.host_link_gbps / self.clock_ghz

    @property
    def streams_per_core(self) -> list[str]:
        """Names of one core's instruction streams: `dma0..dma{q-1}`, then `mpe{c}` and
        `sfu{c}` for each corelet c."""
        names = [f"dma{q}" for q in range(self.dma_queues)]
        for c in range(self.corelets_per_core):
            names += [f"mpe{c}", f"sfu{c}"]
        return names

    def fingerprint(self) -> str:
        """16 hex digits identifying every field's value (sha256 of `to_json()`); a binary
        whose recorded fingerprint differs was built for another machine."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def summary(self) -> str:
        """A one-line description for reports and tool output."""
        plural = "s" if self.cores > 1 else ""
        return (f"{self.name}: {self.cores} core{plural} x {self.corelets_per_core} corelets, "
                f"{self.clock_ghz:g} GHz, {self.peak_tflops:.2f} TFLOPS fp16, "
                f"LX {_human_bytes(self.lx_bytes)}/core, DRAM {self.dram_gbps:g} GB/s, "
                f"fp16 {self.fp16_format} [{self.fingerprint()}]")

    # Serialisation --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_json(self) -> str:
        """Canonical JSON of every field (sorted keys, no spaces), for embedding in binaries."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "machine description") -> Machine:
        """A machine from a table of fields (an optional `base` preset, then overrides).
        Raises MachineError naming `where` on an unknown, missing or invalid field."""
        return _from_table(data, where, default_name=None)

    @classmethod
    def from_json(cls, text: str) -> Machine:
        """The machine whose `to_json()` is `text` (any JSON object of fields is accepted)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise MachineError(f"machine JSON is not valid JSON: {e.msg} "
                               f"(line {e.lineno}, column {e.colno})") from None
        return _from_table(data, "machine JSON", default_name=None)


# Validation -----------------------------------------------------------------------------


def _human_bytes(n: int) -> str:
    """`n` bytes as the largest binary unit that divides it exactly (2 MiB, 1536 KiB...)."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def _check_field(f: dataclasses.Field, value: Any) -> Any:
    """The checked (and, for floats, normalised) value of field `f`; raises MachineError."""
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "str":
        return _check_str(f, value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise MachineError(f"machine field '{f.name}' must be an integer, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MachineError(f"machine field '{f.name}' must be a number, got {value!r}")
    else:
        value = float(value)  # so 2 and 2.0 give the same machine and fingerprint
    _check_range(f, value)
    return value


def _check_str(f: dataclasses.Field, value: Any) -> str:
    if not isinstance(value, str):
        raise MachineError(f"machine field '{f.name}' must be a string, got {value!r}")
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise MachineError(f"machine field '{f.name}' = {value!r} is not one of {allowed}")
    if not value.strip():
        raise MachineError(f"machine field '{f.name}' must not be empty")
    return value


def _check_range(f: dataclasses.Field, value: int | float) -> None:
    lo, hi = f.metadata["range"]
    is_bytes = f.metadata["is_bytes"]
    hint = f" ({_human_bytes(lo)} .. {_human_bytes(hi)})" if is_bytes else ""
    if not lo <= value <= hi:  # also rejects NaN
        raise MachineError(
            f"machine field '{f.name}' = {value!r} is out of range [{lo}, {hi}]{hint}")
    if f.metadata["power_of_two"] and value & (value - 1):
        raise MachineError(
            f"machine field '{f.name}' = {value} must be a power of two in [{lo}, {hi}]")
    step = f.metadata["multiple_of"]
    if step and value % step:
        raise MachineError(f"machine field '{f.name}' = {value} must be a multiple of {step}")


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Machine))
"""Every field of `Machine`, in declaration order."""


# Presets --------------------------------------------------------------------------------

PRESETS: Mapping[str, Machine] = MappingProxyType({
    "rapid-1c": Machine(name="rapid-1c", cores=1),
    "rapid-4c": Machine(name="rapid-4c", cores=4),
    # 8x the cores of the 4-core chip, so 8x its DRAM bandwidth: the same 37.5 GB/s per
    # core and the same bytes per FLOP, so that the bigger chip is not starved by a
    # bandwidth figure we made up. (The ISCA 2021 system is built of 32-core chips.)
    "rapid-32c": Machine(name="rapid-32c", cores=32, dram_gbps=1200.0),
})
"""The built-in machines by name. All use the field defaults except as noted."""

DEFAULT_MACHINE = "rapid-4c"
"""The preset used when a tool is not given a machine."""


def default_machine() -> Machine:
    """The preset named by `DEFAULT_MACHINE`."""
    return PRESETS[DEFAULT_MACHINE]


# Loading --------------------------------------------------------------------------------


def load_machine(spec: str | os.PathLike) -> Machine:
    """The machine named by `spec`: a preset name (see `PRESETS`) or the path of a
    `.json` or `.toml` file holding a flat table of fields.

    A file may say `base = "<preset>"` to start from that preset and override some
    fields; without `base` it must give `cores`. Its `name` defaults to the file's stem.
    Every error raises MachineError, naming the file for errors in a file.
    """
    text = os.fspath(spec)
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text)
    if path.suffix.lower() in (".json", ".toml"):
        return _load_file(path)
    if path.exists():
        raise MachineError(f"machine file '{path}' must end in .json or .toml")
    raise MachineError(f"unknown machine '{text}'{_suggest(text, PRESETS)}; known presets: "
                       f"{', '.join(PRESETS)} (or give the path of a .json or .toml file)")


def _load_file(path: Path) -> Machine:
    where = f"machine file '{path}'"
    if not path.exists():
        raise MachineError(f"{where} does not exist")
    if not path.is_file():
        raise MachineError(f"{where} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise MachineError(f"{where} cannot be read: {e}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise MachineError(f"{where} is not valid JSON: {e.msg} "
                               f"(line {e.lineno}, column {e.colno})") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise MachineError(f"{where} is not valid TOML: {e}") from None
    return _from_table(data, where, default_name=path.stem)


def _suggest(word: str, candidates) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def _from_table(data: Any, where: str, default_name: str | None) -> Machine:
    """A machine from a parsed table: `base` preset (optional), then field overrides."""
    if not isinstance(data, dict):
        raise MachineError(f"{where} must hold a table of machine fields, "
                           f"got a {type(data).__name__}")
    table = dict(data)
    base_name = table.pop("base", None)
    unknown = [key for key in table if key not in FIELD_NAMES]
    if unknown:
        parts = [f"'{key}'{_suggest(key, FIELD_NAMES)}" for key in unknown]
        raise MachineError(f"{where}: unknown field {', '.join(parts)}; fields are "
                           f"'base' and those listed in docs/machine.md")
    values: dict[str, Any] = {}
    if base_name is not None:
        if not isinstance(base_name, str):
            raise MachineError(f"{where}: 'base' must be a preset name, got {base_name!r}")
        if base_name not in PRESETS:
            raise MachineError(f"{where}: unknown base preset '{base_name}'"
                               f"{_suggest(base_name, PRESETS)}; known presets: "
                               f"{', '.join(PRESETS)}")
        values = PRESETS[base_name].to_dict()
        if default_name is not None:
            values["name"] = default_name
    elif default_name is not None:
        values["name"] = default_name
    values.update(table)
    for required in ("name", "cores"):
        if required not in values:
            raise MachineError(f"{where}: field '{required}' is missing (give it, or start "
                               f"from a preset with base = \"{DEFAULT_MACHINE}\")")
    try:
        return Machine(**values)
    except MachineError as e:
        raise MachineError(f"{where}: {e}") from None
