from rapid_mlir.frontend.torch import from_torch

__all__ = ["from_torch"]
