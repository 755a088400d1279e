"""A mapping: how one layer's loop nest runs on the machine.

Text form (what `#rapid_tile.mapping<"...">` holds, and what users write):

    cores(oc=4) corelets(oh=2) rows(oh,ow) cols(oc) simd(ic) order(n,g,oc,oh,ow,ic,kh,kw)
    lx(n=1,g=1,oc=16,oh=14,ow=56,ic=64,kh=3,kw=3) l0(oh=1,ow=56,oc=16,ic=64) double_buffer

- `cores(d=p, ...)`: dimension d is split into p parts over the cores (the product of the
  parts is at most the machine's cores); `corelets(...)` likewise over a core's corelets.
- `rows(...)`, `cols(...)`, `simd(...)`: the dimensions whose product forms the MPE's m
  (array rows), n (array columns) and k (SIMD lanes, the reduction) of each tile product.
- `order(...)`: every dimension, outermost loop first, of the loops over LX tiles; the
  operand whose dimensions are all outside the innermost varying loop stays resident.
- `lx(d=t, ...)`: tile extents held in LX per step, for one corelet's share of the work
  (after the core and corelet splits; the corelets of a core share its LX);
  `l0(d=t, ...)`: tile extents of one MPE instruction (over rows, cols and simd dims).
- `double_buffer`: LX tiles of streamed operands are double-buffered.
- `resident(rhs)` (optional; matmul `rhs`, conv2d `weight`): the operand, a weight every
  corelet loads whole once, stays in LX from the first kernel of the layers that share
  it (the same weight under the same mapping, e.g. a recurrent layer's steps) to the
  last; only the first loads it (`mapping/residency.py`).
- `prefetch` (optional): during this kernel, load the resident weight of the next kernel
  (the first of its group), so that its load overlaps this kernel's work.
- `keep_output` (optional; conv2d): every corelet holds its whole share of the output in
  one LX tile, which stays in LX for the next kernel instead of being stored to DRAM;
  `share_output`: the same, and stored as well (other layers read it too);
  `kept_input` (optional; a 1x1 conv2d): the input is that tile, found in LX where the
  kernel before kept it, not loaded (`mapping/forwarding.py`).
- `residual_add` (optional; conv2d): the `nn.add` of the conv's result and a tensor
  computed before it (and a relu or clip of the sum) runs in this kernel's epilogue
  (`convert_nn_to_tile.fused_residual`).
- `group` (optional; a vector layer): the kernel runs a chain of elementwise ops (and
  splits along the last axis) from this layer on, one LX tile of rows through all of
  them, instead of one kernel per op (`transforms/elementwise_groups.py`).

The JSON form is the same fields as an object (`to_json` / `from_json`); a mapping file
maps layer names to such objects.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from rapid_mlir.mapping.problem import Problem


FLAGS = ("double_buffer", "prefetch", "keep_output", "share_output", "kept_input", "residual_add", "group")
"""The clauses without a list."""


class MappingError(ValueError):
    """A mapping that is malformed or does not fit its layer or machine."""


@dataclass(frozen=True)
class Mapping:
    cores: dict[str, int] = field(default_factory=dict)
    corelets: dict[str, int] = field(default_factory=dict)
    rows: tuple[str, ...] = ()
    cols: tuple[str, ...] = ()
    simd: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    lx: dict[str, int] = field(default_factory=dict)
    l0: dict[str, int] = field(default_factory=dict)
    double_buffer: bool = True
    resident: tuple[str, ...] = ()
    prefetch: bool = False
    keep_output: bool = False
    share_output: bool = False
    kept_input: bool = False
    residual_add: bool = False
    group: bool = False

    # -- text ------------------------------------------------------------------------------

    def to_text(self) -> str:
        def kv(d):
            return ",".join(f"{k}={v}" for k, v in d.items())

        parts = [f"cores({kv(self.cores)})", f"corelets({kv(self.corelets)})",
                 f"rows({','.join(self.rows)})", f"cols({','.join(self.cols)})",
                 f"simd({','.join(self.simd)})", f"order({','.join(self.order)})",
                 f"lx({kv(self.lx)})", f"l0({kv(self.l0)})"]
        if self.double_buffer:
            parts.append("double_buffer")
        if self.resident:
            parts.append(f"resident({','.join(self.resident)})")
        for flag in FLAGS[1:]:
            if getattr(self, flag):
                parts.append(flag)
        return " ".join(parts)

    @staticmethod
    def from_text(text: str) -> Mapping:
        """Parses `to_text`'s form; raises MappingError naming the bad clause."""
        fields: dict[str, object] = {"double_buffer": False}
        seen: set[str] = set()
        pos = 0
        clause = re.compile(r"\s*([a-z_0-9]+)\s*(?:\(([^()]*)\))?")
        while pos < len(text.rstrip()):
            m = clause.match(text, pos)
            if m is None or m.end() == pos:
                raise MappingError(f"mapping text: cannot parse '{text[pos:].strip()}'")
            name, body = m.group(1), m.group(2)
            pos = m.end()
            if name in seen:
                raise MappingError(f"mapping text: clause '{name}' appears twice")
            seen.add(name)
            if name in ("cores", "corelets", "lx", "l0", "rows", "cols", "simd", "order", "resident") and body is None:
                raise MappingError(f"mapping text: clause '{name}' needs a list in parentheses")
            if name in FLAGS and body is None:
                fields[name] = True
            elif name in ("cores", "corelets", "lx", "l0") and body is not None:
                fields[name] = _parse_kv(name, body)
            elif name in ("rows", "cols", "simd", "order", "resident") and body is not None:
                fields[name] = tuple(d.strip() for d in body.split(",") if d.strip())
            else:
                raise MappingError(f"mapping text: unknown clause '{name}' (expected cores, corelets, "
                                   "rows, cols, simd, order, lx, l0, double_buffer, resident, prefetch, "
                                   "keep_output, share_output, kept_input, residual_add or group)")
        return Mapping(**fields)  # type: ignore[arg-type]

    # -- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        out = {"cores": dict(self.cores), "corelets": dict(self.corelets), "rows": list(self.rows),
               "cols": list(self.cols), "simd": list(self.simd), "order": list(self.order),
               "lx": dict(self.lx), "l0": dict(self.l0), "double_buffer": self.double_buffer}
        if self.resident:
            out["resident"] = list(self.resident)
        for flag in FLAGS[1:]:
            if getattr(self, flag):
                out[flag] = True
        return out

    @staticmethod
    def from_dict(data: dict, where: str = "mapping") -> Mapping:
        if not isinstance(data, dict):
            raise MappingError(f"{where}: expected an object but found {type(data).__name__}")
        known = set(Mapping.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise MappingError(f"{where}: unknown field '{unknown[0]}' (fields: {', '.join(sorted(known))})")
        out: dict[str, object] = {}
        for key, value in data.items():
            if key in ("cores", "corelets", "lx", "l0"):
                if not isinstance(value, dict) or not all(
                        isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
                    raise MappingError(f"{where}: '{key}' must map dimensions to integers")
                out[key] = dict(value)
            elif key in ("rows", "cols", "simd", "order", "resident"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    what = "operand" if key == "resident" else "dimension"
                    raise MappingError(f"{where}: '{key}' must be a list of {what} names")
                out[key] = tuple(value)
            else:
                if not isinstance(value, bool):
                    raise MappingError(f"{where}: '{key}' must be true or false")
                out[key] = value
        return Mapping(**out)  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def __hash__(self) -> int:  # dict fields: hash the canonical JSON (searches keep sets)
        return hash(self.to_json())

    # -- checks against the layer ------------------------------------------------------------

    def validate(self, problem: Problem) -> None:
        """Structural checks against the layer's loop nest (the machine is `footprint`'s)."""
        where = f"layer '{problem.layer}'"
        dims = problem.dims
        for clause in ("cores", "corelets", "lx", "l0"):
            for d, v in getattr(self, clause).items():
                if d not in dims:
                    raise MappingError(f"{where}: {clause}({d}=...) names no dimension of the layer "
                                       f"(dimensions: {', '.join(dims)})")
                if v < 1:
                    raise MappingError(f"{where}: {clause}({d}={v}) must be >= 1")
        for clause in ("rows", "cols", "simd", "order"):
            for d in getattr(self, clause):
                if d not in dims:
                    raise MappingError(f"{where}: {clause}({d}) names no dimension of the layer "
                                       f"(dimensions: {', '.join(dims)})")
        if sorted(self.order) != sorted(dims):
            raise MappingError(f"{where}: order({','.join(self.order)}) must list every dimension once "
                               f"({', '.join(dims)})")
        spatial = self.rows + self.cols + self.simd
        if len(set(spatial)) != len(spatial):
            raise MappingError(f"{where}: rows, cols and simd must not share a dimension")
        if set(self.simd) - set(problem.reduction):
            raise MappingError(f"{where}: simd({','.join(self.simd)}) must be reduction dimensions "
                               f"({', '.join(problem.reduction)})")
        if (set(self.rows) | set(self.cols)) & set(problem.reduction):
            raise MappingError(f"{where}: rows and cols must not hold reduction dimensions")
        for d in dims:
            lx, l0 = self.lx.get(d, 1), self.l0.get(d, 1)
            if lx > self.per_corelet_extent(problem, d):
                raise MappingError(f"{where}: lx({d}={lx}) exceeds the {self.per_corelet_extent(problem, d)} "
                                   f"a core gets")
            if l0 > lx:
                raise MappingError(f"{where}: l0({d}={l0}) exceeds lx({d}={lx})")
            if d in self.l0 and d not in spatial:
                raise MappingError(f"{where}: l0({d}=...) but {d} is not in rows, cols or simd")
        names = [op.name for op in problem.operands]
        for op in self.resident:
            if op not in names:
                raise MappingError(f"{where}: resident({op}) names no operand of the layer "
                                   f"(operands: {', '.join(names)})")
        for flag in ("keep_output", "share_output", "kept_input", "residual_add"):
            if getattr(self, flag) and problem.kind != "conv2d":
                raise MappingError(f"{where}: {flag} is for conv2d layers, not {problem.kind}")
        if self.group and not problem.params.get("group"):
            raise MappingError(f"{where}: group is for the kernel of an elementwise group, not a {problem.kind} "
                               "layer")
        if self.keep_output and self.share_output:
            raise MappingError(f"{where}: keep_output (not stored) and share_output (stored too) exclude "
                               "each other")
        for d, parts in self.cores.items():  # a copy layer: every core gets a share of every piece
            if d in problem.grain and problem.grain[d] % parts:
                raise MappingError(f"{where}: cores({d}={parts}) does not divide the pieces of the tensor along "
                                   f"{d} (their extents are multiples of {problem.grain[d]}): every core runs "
                                   "the same code on an equal share of each")

    def per_corelet_extent(self, problem: Problem, dim: str) -> int:
        """How much of `dim` one corelet works on after the core and corelet splits
        (the bound of lx tiles)."""
        extent = problem.dims[dim]
        for split in (self.cores, self.corelets):
            parts = split.get(dim, 1)
            extent = -(-extent // parts)
        return extent


def _parse_kv(clause: str, body: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        m = re.fullmatch(r"([a-z_0-9]+)\s*=\s*(\d+)", item)
        if m is None:
            raise MappingError(f"mapping text: {clause}(...) expects dim=integer entries, found '{item}'")
        if m.group(1) in out:
            raise MappingError(f"mapping text: {clause}(...) gives {m.group(1)} twice")
        out[m.group(1)] = int(m.group(2))
    return out


def load_mapping_file(path) -> dict[str, Mapping]:
    """A JSON file mapping layer names to mappings (to pin or override single layers)."""
    from pathlib import Path

    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MappingError(f"mapping file {path} cannot be read ({e})") from None
    except json.JSONDecodeError as e:
        raise MappingError(f"mapping file {path}: invalid JSON at line {e.lineno}, column {e.colno}: "
                           f"{e.msg}") from None
    if not isinstance(data, dict):
        raise MappingError(f"mapping file {path}: expected an object of layer name -> mapping")
    return {name: Mapping.from_dict(m, f"mapping file {path}, layer '{name}'") for name, m in data.items()}
