"""The emulator's errors: one class per way a program can go wrong at run time.

Every error is an `EmulatorError` (a `ValueError`, so the command-line tools print it
as `TOOL: error: ...` rather than a traceback). Errors raised while an instruction runs
start with where it happened: `core 0 stream mpe0 pc 4 (mpe.mm acc[0x0] f32 ...): `.
"""

from __future__ import annotations


class EmulatorError(ValueError):
    """Something a program did that the machine cannot do, or a broken program."""

    def __init__(self, message: str, *, located: bool = False):
        super().__init__(message)
        self.located = located
        """True once the message names the core, stream, pc and instruction."""

    def relocated(self, where: str) -> EmulatorError:
        """The same error with `where: ` in front of its message."""
        err = type(self).__new__(type(self))
        EmulatorError.__init__(err, f"{where}: {self}", located=True)
        err.__dict__.update({k: v for k, v in self.__dict__.items() if k != "located"})
        return err


class LoadError(EmulatorError):
    """A program that cannot be loaded: built for another machine, an illegal stream
    (`isa_check.check_stream`), a data segment or symbol outside DRAM, bad inputs."""


class OutOfBoundsError(EmulatorError):
    """An access pattern that touches bytes outside its memory space."""


class StreamEndError(EmulatorError):
    """A stream that ran past its last instruction without `halt`."""


class DeadlockError(EmulatorError):
    """No stream can make progress but some have not halted.

    `blocked` lists one dict per blocked stream: core, stream, pc, instruction, waits_for.
    """

    def __init__(self, message: str, blocked: list[dict] | None = None, *, located: bool = True):
        super().__init__(message, located=located)
        self.blocked = blocked or []


class RaceError(EmulatorError):
    """Two streams access the same memory, at least one writing, and no semaphore or
    barrier orders them. `kind` is "read-after-write", "write-after-read" or
    "write-after-write"."""

    def __init__(self, message: str, kind: str = "", *, located: bool = False):
        super().__init__(message, located=located)
        self.kind = kind
