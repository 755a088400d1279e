"""The `rapid_tile` dialect: device kernels with their mappings.

The level below `nn`. A `rapid_tile.kernel` is one unit of work for the accelerator:
a region of `nn` ops (one compute op and its fused epilogue, or a chain of elementwise
ops: `transforms/elementwise_groups.py`) isolated from the rest of the graph, with
explicit inputs and results, the name of the layer it came from, and the *mapping*
that says how it runs (work division over cores and corelets,
which dimensions feed the MPE rows, columns and SIMD lanes, loop order, LX and L0 tile
sizes; see `rapid_mlir.mapping.mapping`). `nn` ops left outside kernels run on the host,
as RaPiDLib's host fallback did.

    %y = rapid_tile.kernel "conv1" mapping <"cores(oc=4) ... double_buffer">
           (%x, %w) : (tensor<1x3x32x32xf32>, tensor<16x3x3x3xf32>) -> tensor<1x16x32x32xf32> {
    ^bb0(%a: tensor<1x3x32x32xf32>, %b: tensor<16x3x3x3xf32>):
      %c = nn.conv2d %a, %b strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 : ...
      rapid_tile.yield %c : tensor<1x16x32x32xf32>
    }
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import StringAttr, TensorType
from xdsl.ir import Attribute, Block, Dialect, ParametrizedAttribute, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    lazy_traits_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsolatedFromAbove, IsTerminator, Pure
from xdsl.utils.exceptions import VerifyException

from rapid_mlir.mapping.mapping import Mapping, MappingError


@irdl_attr_definition
class MappingAttr(ParametrizedAttribute):
    """A layer's mapping, in its text form: `#rapid_tile.mapping<"cores(oc=4) ...">`."""

    name = "rapid_tile.mapping"
    text: StringAttr

    def __init__(self, mapping: Mapping | str):
        text = mapping.to_text() if isinstance(mapping, Mapping) else mapping
        super().__init__(StringAttr(text))

    @property
    def mapping(self) -> Mapping:
        return Mapping.from_text(self.text.data)

    def verify(self) -> None:
        try:
            Mapping.from_text(self.text.data)
        except MappingError as e:
            raise VerifyException(f"rapid_tile.mapping: {e}") from None

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            text = parser.parse_str_literal()
        return [StringAttr(text)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string("<")
        printer.print_string_literal(self.text.data)
        printer.print_string(">")


@irdl_op_definition
class KernelOp(IRDLOperation):
    """A device kernel: the `nn` ops of one layer, with the layer's name and mapping."""

    name = "rapid_tile.kernel"
    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    layer = prop_def(StringAttr)
    """The name of the nn op the kernel came from (kept down to every instruction)."""
    mapping = prop_def(MappingAttr)
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove(), Pure())
    assembly_format = (
        "$layer `mapping` $mapping `(` $inputs `)` `:` functional-type($inputs, $outputs) attr-dict-with-keyword $body"
    )

    def __init__(self, layer: str, mapping: Mapping, inputs: Sequence[SSAValue], body: Region,
                 result_types: Sequence[Attribute]):
        super().__init__(operands=[list(inputs)], result_types=[list(result_types)],
                         properties={"layer": StringAttr(layer), "mapping": MappingAttr(mapping)},
                         regions=[body])

    def verify_(self) -> None:
        block = self.body.block
        arg_types = [a.type for a in block.args]
        in_types = [v.type for v in self.inputs]
        if arg_types != in_types:
            raise VerifyException(
                f"rapid_tile.kernel '{self.layer.data}': the body takes ({', '.join(map(str, arg_types))}) "
                f"but the kernel's inputs are ({', '.join(map(str, in_types))})")
        last = block.last_op
        if not isinstance(last, YieldOp):
            raise VerifyException(f"rapid_tile.kernel '{self.layer.data}': the body must end with rapid_tile.yield")
        yielded = [v.type for v in last.values]
        out_types = [r.type for r in self.outputs]
        if yielded != out_types:
            raise VerifyException(
                f"rapid_tile.kernel '{self.layer.data}': the body yields ({', '.join(map(str, yielded))}) "
                f"but the kernel's results are ({', '.join(map(str, out_types))})")


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends a kernel's body, giving its results."""

    name = "rapid_tile.yield"
    values = var_operand_def(TensorType)
    traits = lazy_traits_def(lambda: (IsTerminator(), HasParent(KernelOp), Pure()))
    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, *values: SSAValue):
        super().__init__(operands=[list(values)])


def new_body(arg_types: Sequence[Attribute]) -> tuple[Region, Block]:
    """An empty kernel body with block arguments of the given types."""
    block = Block(arg_types=list(arg_types))
    return Region(block), block


RapidTile = Dialect("rapid_tile", [KernelOp, YieldOp], [MappingAttr])
