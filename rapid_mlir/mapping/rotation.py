"""Which LX loop the MPE lowering rotates, so that the pipeline does not restart at
every LX output tile (docs/lowering.md, "Rotation").

When a layer reduces over several LX steps, each LX output tile ends with its epilogues
and stores, and the next tile's first loads would queue behind those stores on the
corelet's in-order DMA queue: the MPE would wait for the stores and the loads. Rotated,
the next tile's first-step loads are issued right after the current tile's last-step
loads (into the slot the first step uses, free since the step before the last finished),
so they run while the MPE works on the last step. `mpe_lowering` emits this and
`cost/schedule.py` mirrors it; both ask `rotated_level`.
"""

from __future__ import annotations


def load_levels(levels: list[str], operands: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Operand -> the index in `levels` of the loop its LX tile loads at: the innermost
    level over a dim indexing it (-1: loaded once, before the loops)."""
    return {op: max((i for i, d in enumerate(levels) if d in dims), default=-1) for op, dims in operands.items()}


def rotated_level(levels: list[str], reduction: tuple[str, ...], load_level: dict[str, int],
                  double_buffer: bool, reduction_steps: int) -> int | None:
    """The index in `levels` (the stepped LX dims, outermost first) of the level whose
    tiles are rotated, or None. It is the level just outside the stepped reduction (the
    innermost level), when the reduction takes an even number of LX steps with double
    buffering (the first step's slot, 0, is then not the last step's) and no operand
    loads at that level itself (`load_level`: operand -> the level of its loads)."""
    if not double_buffer or len(levels) < 2 or levels[-1] not in reduction or reduction_steps % 2:
        return None
    outer = len(levels) - 2
    return None if any(level == outer for level in load_level.values()) else outer
