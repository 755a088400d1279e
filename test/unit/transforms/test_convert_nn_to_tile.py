"""convert-nn-to-tile keeps what a module computes, on every machine preset."""

from pathlib import Path

import numpy as np
import pytest

from rapid_mlir.dialects import make_context
from rapid_mlir.dialects.rapid_tile import KernelOp
from rapid_mlir.ir_io import module_text, parse_module, read_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.transforms.convert_nn_to_tile import ConvertNnToTilePass
from rapid_mlir.weights import store_for

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "small_cnn.mlir"


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c", "rapid-32c"])
def test_tiled_module_computes_the_same(machine):
    module = read_module(EXAMPLE)
    store = store_for(module, EXAMPLE)
    inputs = random_inputs(signature(find_entry(module)), seed=2)
    before = run(module, inputs, store)
    ConvertNnToTilePass(machine=machine).apply(make_context(), module)
    module.verify()
    kernels = [op for op in module.walk() if isinstance(op, KernelOp)]
    assert [k.layer.data for k in kernels] == [  # matrix layers, and SFU layers (batch norms with relu fused)
        "stem", "stem_bn", "pool", "res.a", "res.a_bn", "res.b", "res.b_bn", "res_add", "dw", "dw_bn", "dw_relu6",
        "pw", "pw_bn", "gap", "fc", "softmax"]
    # Through text, as rapid-opt pipelines run it.
    after = run(parse_module(module_text(module)), inputs, store)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])


def test_every_kernel_mapping_fits_its_machine():
    from rapid_mlir.machine import load_machine
    from rapid_mlir.mapping.footprint import check_fits
    from rapid_mlir.transforms.convert_nn_to_tile import layer_problem

    module = read_module(EXAMPLE)
    ConvertNnToTilePass(machine="rapid-1c").apply(make_context(), module)
    machine = load_machine("rapid-1c")
    for kernel in (op for op in module.walk() if isinstance(op, KernelOp)):
        problem = layer_problem(kernel.body.block.first_op, kernel.layer.data)
        kernel.mapping.mapping.validate(problem)
        assert check_fits(problem, kernel.mapping.mapping, machine).lx_bytes <= machine.lx_bytes
