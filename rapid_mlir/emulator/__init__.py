"""The rapid emulator: the executable specification of the ISA in `backend/isa.py`.

`Emulator(program, machine=None, check_races=True, trace=False)` loads a `Program`,
`run()` executes every stream of every core in deterministic simulated time and returns
statistics; `read_tensor` / `write_tensor` move named tensors in and out of DRAM, and
`chrome_trace()` / `text_trace()` give the traces. Modules:

* `memory`     memory spaces, access patterns as numpy views, f16 codecs
* `semantics`  the functional effect of each data instruction
* `timing`     cycle formulas and the shared-bandwidth servers
* `races`      vector clocks and shadow memory (race detection)
* `scheduler`  the event-driven engine, control instructions, deadlock reports
* `loader`     checks and compiles a program
* `trace`      statistics, Chrome trace JSON, text trace
* `builder`    building small programs in Python
* `numerics`   the machine's 16-bit float formats

See docs/emulator.md.
"""

from rapid_mlir.emulator.errors import (
    DeadlockError,
    EmulatorError,
    LoadError,
    OutOfBoundsError,
    RaceError,
    StreamEndError,
)
from rapid_mlir.emulator.scheduler import Emulator

__all__ = [
    "DeadlockError",
    "Emulator",
    "EmulatorError",
    "LoadError",
    "OutOfBoundsError",
    "RaceError",
    "StreamEndError",
]
