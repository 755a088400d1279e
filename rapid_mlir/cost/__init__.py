"""An analytical performance model of one mapped layer (docs/costmodel.md).

`predict(problem, mapping, machine) -> Prediction`: pure maths on plain dataclasses,
validated against the emulator by `bench/costmodel.py` (the IR side: `harness.py`).
"""

from rapid_mlir.cost.model import Prediction, predict

__all__ = ["Prediction", "predict"]
