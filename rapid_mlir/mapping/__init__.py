"""Mapping of `nn` layers onto the machine: pure maths, no IR.

`problem` describes a layer as a loop nest (named dimensions and operands); `mapping`
is the decision of how that loop nest runs (work division over cores and corelets,
which dimensions feed the MPE rows, columns and SIMD lanes, loop order, LX and L0 tile
sizes); `footprint` checks a mapping against the machine's buffers; `fixed` is the
straightforward strategy that plays the part of a hand-tuned mapping.
"""
