"""The execution runtime (the role of IBM's RaPiDLib): load a program onto a device,
write its named inputs, launch it and read its outputs.

    from rapid_mlir.runtime import load
    device = load(open("prog.rbin", "rb").read())        # or a Program
    result = device.run({"x": x})                        # or run() for seeded random inputs
    result.outputs["y"], result.cycles, result.stats

The device is the emulator (`rapid_mlir.emulator`); see docs/emulator.md, "Runtime".
"""

from rapid_mlir.runtime.device import Device, DeviceError, RunResult, load, random_inputs

__all__ = ["Device", "DeviceError", "RunResult", "load", "random_inputs"]
