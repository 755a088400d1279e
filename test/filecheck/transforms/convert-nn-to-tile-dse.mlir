// convert-nn-to-tile{strategy=dse}: the search strategy. The checks are about structure
// only (the cost model decides the searched mappings and is left out here): a layer with
// one candidate in its mapping space is mapped without the cost model, vector layers
// keep the fixed mapping, layers pinned by a mapping file are not searched (so the
// fixed strategy's dumped mappings fed back under dse give the fixed strategy's output),
// and a layer nothing fits is explained by its smallest tiling.
// RUN: echo '{"conv1": {"cores": {}, "corelets": {"oh": 2}, "rows": ["oh", "ow"], "cols": ["oc"], "simd": ["ic"], "order": ["n", "g", "oc", "oh", "ow", "ic", "kh", "kw"], "lx": {"n": 1, "g": 1, "oc": 32, "oh": 7, "ow": 14, "ic": 8, "kh": 3, "kw": 3}, "l0": {"oh": 4, "ow": 14, "oc": 32, "ic": 8}, "double_buffer": true}}' > %t.pin1.json
// RUN: echo '{"conv1": {"cores": {}, "corelets": {"oh": 2}, "rows": ["oh", "ow"], "cols": ["oc"], "simd": ["ic"], "order": ["n", "g", "oc", "oh", "ow", "ic", "kh", "kw"], "lx": {"n": 1, "g": 1, "oc": 32, "oh": 7, "ow": 14, "ic": 8, "kh": 3, "kw": 3}, "l0": {"oh": 4, "ow": 14, "oc": 32, "ic": 8}, "double_buffer": true}, "huge": {"rows": ["oh", "ow"], "cols": ["oc"], "simd": ["ic"], "order": ["n", "g", "oc", "oh", "ow", "ic", "kh", "kw"], "lx": {"n": 1, "g": 1, "oc": 1, "oh": 1, "ow": 1, "ic": 1, "kh": 200, "kw": 200}, "l0": {"oh": 1, "ow": 1, "oc": 1, "ic": 1}}}' > %t.pin.json
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-1c strategy=dse search-stats=true mapping-file="%t.pin.json"}' 2>&1 | filecheck %s
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-4c strategy=fixed dump-mappings="%t.json"}' > %t.fixed.mlir
// RUN: filecheck %s --input-file %t.json --check-prefix=DUMP
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-4c strategy=dse mapping-file="%t.json" search-stats=true budget=0.5}' > %t.pinned.mlir 2> %t.stats
// RUN: diff %t.fixed.mlir %t.pinned.mlir
// RUN: filecheck %s --input-file %t.stats --check-prefix=NOSEARCH --allow-empty
// RUN: not rapid-opt %s -p 'convert-nn-to-tile{strategy=dse machine="%inputs/tiny-lx.toml" mapping-file="%t.pin1.json"}' 2>&1 | filecheck %s --check-prefix=NOFIT
// RUN: rapid-opt %inputs/residual-conv.mlir -p 'convert-nn-to-tile{machine=rapid-1c strategy=dse}' | filecheck %s --check-prefix=RESIDUAL
// RUN: rapid-opt %inputs/residual-conv.mlir -p 'convert-nn-to-tile{machine=rapid-1c strategy=fixed}' | filecheck %s --check-prefix=UNFUSED
// RUN: rapid-opt %inputs/lstm-cell.mlir -p 'convert-nn-to-tile{machine=rapid-1c strategy=dse search-stats=true dump-mappings="%t.cell.json"}' 2>&1 | filecheck %s --check-prefixes=STATS,GROUP
// RUN: rapid-opt %inputs/lstm-cell.mlir -p 'convert-nn-to-tile{machine=rapid-1c strategy=fixed}' | filecheck %s --check-prefix=UNGROUPED
// RUN: rapid-opt %inputs/lstm-cell.mlir -p 'convert-nn-to-tile{machine=rapid-1c strategy=fixed mapping-file="%t.cell.json"}' | filecheck %s --check-prefix=GROUP
// RUN: sed 's/t1.gates/t1.h/' %t.cell.json > %t.nogroup.json
// RUN: not rapid-opt %inputs/lstm-cell.mlir -p 'convert-nn-to-tile{machine=rapid-1c mapping-file="%t.nogroup.json"}' 2>&1 | filecheck %s --check-prefix=NOGROUP

func.func @tiny(%a: tensor<1x1xf32>, %b: tensor<1x1xf32>) -> tensor<1x1xf32> {
  %y = nn.matmul %a, %b {nn.name = "mm1"} : (tensor<1x1xf32>, tensor<1x1xf32>) -> tensor<1x1xf32>
  %s = nn.sigmoid %y : tensor<1x1xf32>
  func.return %s : tensor<1x1xf32>
}

func.func @conv(%x: tensor<1x8x14x14xf32>, %w: tensor<32x8x3x3xf32>) -> tensor<1x32x14x14xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv1"} : (tensor<1x8x14x14xf32>, tensor<32x8x3x3xf32>) -> tensor<1x32x14x14xf32>
  func.return %y : tensor<1x32x14x14xf32>
}

func.func @huge(%x: tensor<1x1x200x200xf32>, %w: tensor<1x1x200x200xf32>) -> tensor<1x1x1x1xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "huge"} : (tensor<1x1x200x200xf32>, tensor<1x1x200x200xf32>) -> tensor<1x1x1x1xf32>
  func.return %y : tensor<1x1x1x1xf32>
}

// CHECK:       convert-nn-to-tile: dse mm1: 1 candidates, 0 evaluated, 0 pruned, {{[0-9.]+}} s; the only candidate, not evaluated
// CHECK-NOT:   dse conv1
// CHECK-LABEL: func.func @tiny
// CHECK-NEXT:    %y = rapid_tile.kernel "mm1" mapping <"cores() corelets() rows(m) cols(n) simd(k) order(b,m,n,k) lx(b=1,m=1,n=1,k=1) l0(m=1,n=1,k=1) double_buffer">(%a, %b)
// CHECK:         rapid_tile.kernel "sigmoid_0" mapping <"{{.*}}rows() cols() simd(){{.*}}">
// CHECK-LABEL: func.func @conv
// CHECK-NEXT:    %y = rapid_tile.kernel "conv1" mapping <"cores() corelets(oh=2) rows(oh,ow) cols(oc) simd(ic) order(n,g,oc,oh,ow,ic,kh,kw) lx(n=1,g=1,oc=32,oh=7,ow=14,ic=8,kh=3,kw=3) l0(oh=4,ow=14,oc=32,ic=8) double_buffer">

// DUMP:      {
// DUMP-NEXT:  "mm1": {
// DUMP:        "rows": [
// DUMP-NEXT:    "m"
// DUMP:       "sigmoid_0": {
// DUMP:       "conv1": {
// DUMP-NEXT:   "cores": {
// DUMP-NEXT:    "oc": 4
// DUMP:       }

// NOSEARCH-NOT: dse

// A layer too large for the machine: the smallest tiling's overflowing tensor and buffer.
// NOFIT: rapid-opt: error: {{.*}}convert-nn-to-tile: layer 'huge': the input tile (200x200 f16) needs 80000 bytes of LX but LX holds 65536 bytes; {{.*}}; the dse strategy found no mapping that fits

// dse runs a residual add (and the relu after it) in the conv's epilogue: one kernel
// whose last operand is the addend; the fixed strategy (the baseline) keeps the add as
// an SFU kernel of its own.
// RESIDUAL:      %y = rapid_tile.kernel "conv" mapping <"{{.*}}">(%x, %w, %x)
// RESIDUAL-NEXT: ^bb0(%0: {{.*}}, %1: {{.*}}, %2: tensor<1x8x8x8xf32>):
// RESIDUAL-NEXT:   %c = nn.conv2d %0, %1
// RESIDUAL-NEXT:   %s = nn.add %c, %2
// RESIDUAL-NEXT:   %y_1 = nn.relu %s
// RESIDUAL-NEXT:   rapid_tile.yield %y_1
// RESIDUAL-NOT:  rapid_tile.kernel
// UNFUSED:       %c = rapid_tile.kernel "conv"
// UNFUSED:       %y = rapid_tile.kernel "add"

// An LSTM step's gates and state update (dse: one elementwise group, elementwise_groups.py;
// fixed, and a pin without `group`: one kernel per op). The dumped mapping says `group`, so
// the fixed strategy with it as a mapping file builds the same kernel.
// STATS:      convert-nn-to-tile: dse t1.gates: elementwise group of 10 ops (3 inputs, 2 outputs) in one kernel
// GROUP:      %0, %1 = rapid_tile.kernel "t1.gates" mapping <"cores() corelets(m=2) {{.*}} order(m) lx(m=1) l0() double_buffer group">(%xw, %rec, %c0)
// GROUP-NEXT: ^bb0(%2: tensor<2x32xf32>, %3: tensor<2x32xf32>, %4: tensor<2x8xf32>):
// GROUP-NEXT:   %gates = nn.add %2, %3
// GROUP-NEXT:   %iof_pre, %c_pre = nn.split %gates axis 1
// GROUP-NEXT:   %sig = nn.sigmoid %iof_pre
// GROUP-NEXT:   %i, %o, %f = nn.split %sig axis 1
// GROUP-NEXT:   %cand = nn.tanh %c_pre
// GROUP-NEXT:   %ic = nn.mul %i, %cand
// GROUP-NEXT:   %fc = nn.mul %f, %4
// GROUP-NEXT:   %c = nn.add %fc, %ic
// GROUP-NEXT:   %ct = nn.tanh %c
// GROUP-NEXT:   %h = nn.mul %o, %ct
// GROUP-NEXT:   rapid_tile.yield %c, %h
// GROUP-NEXT: }
// GROUP-NEXT: func.return %1, %0
// UNGROUPED-COUNT-8: rapid_tile.kernel "t1.
// UNGROUPED-NOT:     group
// NOGROUP: convert-nn-to-tile: layer 't1.h': group, but no other elementwise op or last-axis split reads its result (with nothing else but values computed before it)
