"""PyTorch import: a `torch.nn.Module` as an `nn` module and its weights, through ONNX.

    from rapid_mlir.frontend import from_torch
    from rapid_mlir.frontend.torch import example_feeds

    module, weights = from_torch(net, x, weights_file="net.npz")   # x: a tensor or a tuple
    feeds = example_feeds(x)                                        # {"input": x as numpy}

`from_torch` exports the module with `torch.onnx.export` (the TorchScript-based
exporter by default, or the torch.export-based "dynamo" one) at a fixed ONNX opset and
imports the result with `rapid_mlir.frontend.onnx.import_onnx`; docs/onnx.md, "From
PyTorch", shows the whole path to the emulator. torch is an optional extra
(`pip install 'rapid_mlir[torch]'`) and is imported only when called, as is onnx.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import warnings
from collections.abc import Sequence

from rapid_mlir.tools.errors import InputError

EXPORTERS = ("torchscript", "dynamo")
DEFAULT_EXPORTER = "torchscript"
DEFAULT_OPSET = 20
"""torch's own default opset, which both exporters write natively (GELU is one `Gelu`
node from opset 20 on, an `Erf` formula before)."""
OPSETS = {"torchscript": (13, 20), "dynamo": (18, 21)}
"""The opsets each exporter writes and the importer reads (13 to 21): the TorchScript
exporter writes up to 20; the dynamo one writes 18 and converts down, unreliably (it
keeps 18, with a traceback on stderr, when the conversion fails)."""

_MAX_MESSAGE_LINES = 8
"""How much of an exporter's error message an error repeats (the dynamo exporter's can
run to pages)."""


class TorchNotInstalledError(InputError, ImportError):
    """torch (or, for the dynamo exporter, onnxscript) is not installed. Both an
    InputError, so the tools print it on one line, and an ImportError."""


class FromTorchError(InputError):
    """The module could not be exported to ONNX, or not run on its example inputs."""


def from_torch(module, example_inputs, *, exporter: str = DEFAULT_EXPORTER, opset: int = DEFAULT_OPSET,
               input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
               weights_file: str | None = None):
    """The `nn` module computing a `torch.nn.Module`, and the weights it names.

    Returns what `import_onnx` returns: a tuple `(ModuleOp, WeightStore)`, the `nn`
    module (one entry function `@main` whose arguments and results carry the ONNX input
    and output names) and the `WeightStore` backing its `nn.weight` ops, to be saved
    under `weights_file` (default `model.npz`, the name the module records) before the
    module is compiled.

    `module` is switched to eval mode (`module.eval()`: dropout off, batch norms use
    their running statistics) and left in it. `example_inputs` is a tensor or a tuple
    of tensors (NumPy arrays are accepted and converted) passed positionally to
    `forward`; their shapes and dtypes become the model's static input types (float32,
    float16, int64 or int32). Inputs are named `input` (one) or `input_0`, `input_1`,
    ... (several) unless `input_names` is given, and outputs likewise `output` or
    `output_0`, ...; `example_feeds` gives the inputs as NumPy arrays under the same
    names.

    `exporter` is "torchscript" (`torch.onnx.export(..., dynamo=False)`, the default:
    deprecated by torch but needing nothing beyond it, and about ten times faster on
    small models) or "dynamo" (`dynamo=True`, torch's recommended exporter; it needs
    the onnxscript package). `opset` is the ONNX opset to write:
    13 to 20 with "torchscript", 18 to 21 with "dynamo" (default 20).

    Raises TorchNotInstalledError (torch or onnxscript missing), FromTorchError (the
    module fails on its inputs or cannot be exported; the message names the module's
    class and repeats the exporter's) and OnnxImportError (the exported model uses an
    operator or form the importer does not support, docs/onnx.md); all are InputErrors.
    """
    from rapid_mlir.frontend.onnx import import_onnx

    torch = _torch()
    if exporter not in EXPORTERS:
        raise InputError(f"unknown exporter '{exporter}': expected one of {', '.join(EXPORTERS)}")
    low, high = OPSETS[exporter]
    if isinstance(opset, bool) or not isinstance(opset, int) or not low <= opset <= high:
        raise InputError(f"opset {opset!r}: the {exporter} exporter writes ONNX opsets {low} to {high} here "
                         "(the importer reads 13 to 21)")
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"from_torch needs a torch.nn.Module, not a {type(module).__name__}")
    if exporter == "dynamo" and not _has_onnxscript():
        raise TorchNotInstalledError("the dynamo exporter needs the onnxscript package: pip install onnxscript "
                                     "(or use exporter='torchscript')")
    args = _tensors(torch, example_inputs)
    names = _names("input", len(args), input_names, "input_names")
    cls = type(module).__name__
    module.eval()
    try:
        with torch.no_grad():
            outputs = module(*args)
    except Exception as e:  # noqa: BLE001 - whatever forward raises is the user's error
        raise FromTorchError(f"{cls} fails on the example inputs ({_summary(e)})") from None
    out_names = _names("output", _count_tensors(torch, outputs), output_names, "output_names")
    proto = _export(torch, module, args, names, out_names, exporter, opset, cls)
    return import_onnx(proto, weights_file=weights_file)


def example_feeds(example_inputs, input_names: Sequence[str] | None = None) -> dict:
    """The example inputs as NumPy copies keyed by the ONNX input names `from_torch`
    gives them (the same `input_names`, or `input` / `input_0`, `input_1`, ...): the
    feeds for `rapid_mlir.reference.interpreter.run` and `Device.run`. Needs torch only
    if an input is a tensor."""
    import numpy as np

    items = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    arrays = []
    for i, item in enumerate(items):
        if isinstance(item, np.ndarray):
            arrays.append(np.array(item, copy=True))
        elif hasattr(item, "detach") and hasattr(item, "numpy"):
            arrays.append(item.detach().cpu().numpy().copy())
        else:
            raise InputError(f"example input {i} is a {type(item).__name__}; expected a torch tensor or a "
                             "NumPy array")
    names = _names("input", len(arrays), input_names, "input_names")
    return dict(zip(names, arrays, strict=True))


def _torch():
    try:
        import torch
    except ImportError:
        raise TorchNotInstalledError("from_torch needs PyTorch, an optional extra of rapid_mlir: "
                                     "pip install 'rapid_mlir[torch]'") from None
    return torch


def _has_onnxscript() -> bool:
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def _tensors(torch, example_inputs) -> tuple:
    """The example inputs as a tuple of tensors."""
    import numpy as np

    items = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    if not items:
        raise InputError("from_torch needs at least one example input")
    tensors = []
    for i, item in enumerate(items):
        if isinstance(item, np.ndarray):
            item = torch.from_numpy(np.ascontiguousarray(item))
        if not isinstance(item, torch.Tensor):
            raise InputError(f"example input {i} is a {type(item).__name__}; expected a torch tensor or a "
                             "NumPy array")
        tensors.append(item)
    return tuple(tensors)


def _names(base: str, count: int, given: Sequence[str] | None, what: str) -> list[str]:
    if given is None:
        return [base] if count == 1 else [f"{base}_{i}" for i in range(count)]
    given = [given] if isinstance(given, str) else list(given)
    if len(given) != count:
        raise InputError(f"{what} gives {len(given)} name(s) but there are {count}")
    if len(set(given)) != len(given):
        raise InputError(f"{what} repeats a name: {', '.join(given)}")
    return given


def _count_tensors(torch, outputs) -> int:
    """How many tensors the exporters make outputs of (tuples, lists and dicts flattened)."""
    if isinstance(outputs, torch.Tensor):
        return 1
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (tuple, list)):
        return sum(_count_tensors(torch, o) for o in outputs)
    return 0


def _summary(exc: BaseException) -> str:
    """An exception as `Type: message`, cut short: for the dynamo exporter's errors, its
    first sentence and its "Exception summary" section, without terminal colours."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip() or "(no message)"
    head, marker, summary = text.partition("## Exception summary")
    if marker:
        first = head.strip().splitlines()[0]
        text = first.split(". ")[0].rstrip(".") + ".\n" + summary
    lines = [line.rstrip() for line in text.splitlines()
             if line.strip() and line.strip() != "\u2b06\ufe0f"  # an arrow between chained errors
             and not line.startswith("(Refer to the full stack")]
    if len(lines) > _MAX_MESSAGE_LINES:
        lines = [*lines[:_MAX_MESSAGE_LINES], f"... ({len(lines) - _MAX_MESSAGE_LINES} more lines)"]
    return f"{type(exc).__name__}: " + "\n".join(lines)


def _export(torch, module, args, input_names, output_names, exporter, opset, cls):
    """The module as an onnx.ModelProto (weights included)."""
    import onnx

    # The TorchScript exporter's deprecation warning is about our choice, not the user's
    # code; the dynamo exporter's registry logs a warning per torchvision op it skips.
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export",
                                    category=DeprecationWarning)
            if exporter == "dynamo":
                program = torch.onnx.export(module, args, dynamo=True, input_names=input_names,
                                            output_names=output_names, opset_version=opset, verbose=False)
                return program.model_proto
            with tempfile.TemporaryDirectory(prefix="rapid_from_torch_") as tmp:
                path = os.path.join(tmp, "model.onnx")
                torch.onnx.export(module, args, path, dynamo=False, input_names=input_names,
                                  output_names=output_names, opset_version=opset)
                return onnx.load(path)  # with any external data written beside it
    except Exception as e:  # noqa: BLE001 - the exporters raise many unrelated types
        raise FromTorchError(f"the {exporter} exporter cannot export {cls} to ONNX opset {opset} "
                             f"({_summary(e)})") from None
    finally:
        registry_log.setLevel(level)
