"""Named tensors in `.npz` files: reading inputs and writing outputs for the tools."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from rapid_mlir.tools.errors import InputError


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of an `.npz` file, or an InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise InputError(f"{path}: a single .npy array, not an .npz archive of named arrays")
            return {name: archive[name] for name in archive.files}
    # A damaged archive can fail in zipfile (an unknown compression method is a
    # NotImplementedError, an encrypted member a RuntimeError) or in zlib.
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError,
            zlib.error) as e:
        raise InputError(f"{path}: not a readable .npz archive ({e})") from None


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Writes named arrays atomically (numpy appends .npz to names lacking it; we don't)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def checksum(array: np.ndarray) -> str:
    """A short, stable summary of a tensor: sum, sum of absolute values, position-weighted
    sum (which changes when values move) and the flat index of the largest element."""
    a = np.asarray(array, dtype=np.float64).ravel()
    if a.size == 0:
        return "empty"
    weights = 1.0 + (np.arange(a.size) % 97) / 97.0
    return (f"sum={a.sum():.6e} abs_sum={np.abs(a).sum():.6e} weighted={(a * weights).sum():.6e} "
            f"argmax={int(a.argmax())}")


def describe_array(name: str, array: np.ndarray) -> str:
    shape = "x".join(map(str, array.shape)) or "scalar"
    return f"{name}: {shape} {array.dtype} {checksum(array)}"
