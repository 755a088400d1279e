"""The `xdsl.universe` entry point: lets plain `xdsl-opt` see rapid_mlir's dialects and passes."""

from xdsl.universe import Universe

from rapid_mlir.dialects import project_dialects
from rapid_mlir.transforms import project_passes

RAPID_UNIVERSE = Universe(all_dialects=project_dialects(), all_passes=project_passes())
