"""Weight storage: where the data behind `nn.weight "name"` ops lives.

A module's large constants are not printed in its text. Each `nn.weight` op names an
entry of a NumPy `.npz` archive; the module records the archive's path in its
`nn.weights` attribute, relative to the directory of the `.mlir` file:

    builtin.module attributes {nn.weights = "resnet50.npz"} {
      func.func @main(...) {
        %w = nn.weight "conv1.w" : tensor<64x3x7x7xf32>
        ...

Entries are checked when a program is about to use them (name present, shape and
dtype as declared), never half-way through a run. Small constants may instead be
inline `nn.constant dense<...>` ops.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType

WEIGHTS_ATTR = "nn.weights"
"""The module attribute holding the weight file's path (relative to the .mlir file)."""


class WeightError(ValueError):
    """A weight file or entry is missing or does not match what the IR declares."""


def numpy_dtype(element_type) -> np.dtype:
    """The NumPy dtype that stores a tensor element type (f32, f16, i64, i32)."""
    from xdsl.dialects.builtin import Float16Type, Float32Type, Float64Type, IntegerType

    if isinstance(element_type, Float32Type):
        return np.dtype(np.float32)
    if isinstance(element_type, Float16Type):
        return np.dtype(np.float16)
    if isinstance(element_type, Float64Type):
        return np.dtype(np.float64)
    if isinstance(element_type, IntegerType) and element_type.width.data in (8, 16, 32, 64):
        return np.dtype(f"int{element_type.width.data}")
    raise WeightError(f"element type {element_type} has no NumPy storage type")


class WeightStore:
    """Named arrays backing `nn.weight` ops, loaded from or saved to an `.npz` file."""

    def __init__(self, arrays: dict[str, np.ndarray] | None = None, source: str = "<memory>"):
        self._arrays = dict(arrays or {})
        self.source = source

    @classmethod
    def load(cls, path: str | os.PathLike) -> WeightStore:
        """Reads every entry of an `.npz` archive; raises WeightError on a bad file."""
        path = Path(path)
        if not path.is_file():
            raise WeightError(f"weight file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise WeightError(f"weight file {path} is not a readable .npz archive ({e})") from None
        return cls(arrays, str(path))

    def add(self, name: str, array: np.ndarray) -> None:
        """Adds an entry; a name may be used once."""
        if name in self._arrays:
            raise WeightError(f"weight '{name}' is defined twice")
        self._arrays[name] = np.ascontiguousarray(array)

    def names(self) -> list[str]:
        return sorted(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def save(self, path: str | os.PathLike) -> None:
        """Writes the archive atomically (a temporary file renamed into place)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **self._arrays)
        os.replace(tmp, path)

    def get(self, name: str, typ: TensorType) -> np.ndarray:
        """The entry `name`, checked against the tensor type an `nn.weight` declares."""
        if name not in self._arrays:
            raise WeightError(
                f"weight '{name}' is not in {self.source} ({len(self._arrays)} entries"
                + (f", e.g. {', '.join(self.names()[:5])})" if self._arrays else ")")
            )
        array = self._arrays[name]
        shape = tuple(typ.get_shape())
        dtype = numpy_dtype(typ.get_element_type())
        if array.shape != shape or array.dtype != dtype:
            found = "x".join(map(str, array.shape)) or "scalar"
            raise WeightError(
                f"weight '{name}' in {self.source} is {found} {array.dtype} but nn.weight "
                f"declares {typ}"
            )
        return array

    def check(self, declared: Iterable[tuple[str, TensorType]]) -> None:
        """Checks every (name, type) before a run, so that errors come before any work."""
        for name, typ in declared:
            self.get(name, typ)


def declared_weights(module: ModuleOp) -> list[tuple[str, TensorType]]:
    """The (name, type) of every `nn.weight` op in the module."""
    from rapid_mlir.dialects.nn import WeightOp

    return [(op.weight_name.data, op.output.type) for op in module.walk() if isinstance(op, WeightOp)]


def weights_file_of(module: ModuleOp, mlir_path: str | os.PathLike | None) -> Path | None:
    """The weight file a module names, resolved against its .mlir file's directory."""
    attr = module.attributes.get(WEIGHTS_ATTR)
    if attr is None:
        return None
    if not isinstance(attr, StringAttr):
        raise WeightError(f"module attribute {WEIGHTS_ATTR} must be a string but is {attr}")
    base = Path(mlir_path).parent if mlir_path is not None else Path.cwd()
    return base / attr.data


def store_for(module: ModuleOp, mlir_path: str | os.PathLike | None,
              override: str | os.PathLike | None = None) -> WeightStore:
    """Loads and checks the weights a module needs (an explicit file overrides the attribute)."""
    declared = declared_weights(module)
    path = Path(override) if override is not None else weights_file_of(module, mlir_path)
    if path is None:
        if declared:
            raise WeightError(
                f"the module uses {len(declared)} nn.weight ops (e.g. '{declared[0][0]}') but names "
                f"no weight file: set the module attribute {WEIGHTS_ATTR} or pass --weights"
            )
        return WeightStore()
    store = WeightStore.load(path)
    store.check(declared)
    return store
