// Data movement on the device: convert-nn-to-tile gives concat, split (one kernel, two
// results; parts that are runs of consecutive elements become views of the input instead,
// no kernel), transpose and pad a `copy` loop nest and mapping (dims merged where every
// transfer is contiguous, `d1_2_3`); convert-tile-to-mem moves every box of the tensor
// DRAM -> LX -> DRAM by DMA, alternating two lanes (queue and LX tile) and looping in
// hardware over LX steps; a core split along a concat axis must divide every piece.
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c}' | filecheck %s --check-prefix=TILE
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=MEM
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c mapping-file="%inputs/dma-layers.json"},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=PINNED
// RUN: not rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c mapping-file="%inputs/dma-bad-split.json"}' 2>&1 | filecheck %s --check-prefix=SPLIT

func.func @inception(%x: tensor<1x4x6x5xf32> {nn.name = "x"}, %y: tensor<1x7x6x5xf32> {nn.name = "y"}) -> (tensor<1x11x6x5xf32> {nn.name = "cat"}, tensor<1x6x5x7xf32> {nn.name = "nhwc"}) {
  %c = nn.concat %x, %y axis 1 {nn.name = "cat"} : (tensor<1x4x6x5xf32>, tensor<1x7x6x5xf32>) -> tensor<1x11x6x5xf32>
  %t = nn.transpose %y perm [0, 2, 3, 1] {nn.name = "nhwc"} : (tensor<1x7x6x5xf32>) -> tensor<1x6x5x7xf32>
  func.return %c, %t : tensor<1x11x6x5xf32>, tensor<1x6x5x7xf32>
}

// The channel axis merges with h and w: pieces of 120 and 210 elements, split over 3 cores
// (30 divides both); the transpose keeps h, w together (d1_2) and moves c (d3) inside.
// TILE-LABEL: func.func @inception
// TILE:         %c = rapid_tile.kernel "cat" mapping <"cores(d1_2_3=3) corelets() rows() cols() simd() order(d1_2_3) lx(d1_2_3=110) l0() double_buffer">(%x, %y)
// TILE:           nn.concat
// TILE:         %t = rapid_tile.kernel "nhwc" mapping <"cores(d1_2=3) corelets() rows() cols() simd() order(d1_2,d3) lx(d1_2=10,d3=7) l0() double_buffer">(%y)
// TILE:           nn.transpose

// One step per piece and core: each piece takes its own lane (queue 0, queue 1), its core
// coefficient its share of that piece (40 and 70 elements).
// MEM-LABEL: func.func @inception
// MEM:         rapid_mem.kernel "cat" cores 3 corelets 1(%x, %y, %out0)
// MEM-NEXT:    ^bb0(%[[X:.*]]: !rapid_mem.buffer<1x4x6x5xf16, dram>, %[[Y:.*]]: !rapid_mem.buffer<1x7x6x5xf16, dram>, %[[C:.*]]: !rapid_mem.buffer<1x11x6x5xf16, dram>):
// MEM-NEXT:      rapid_mem.corelet 0 {
// MEM-NEXT:        %[[T0:.*]] = rapid_mem.alloc : !rapid_mem.buffer<40xf16, lx>
// MEM-NEXT:        %[[T1:.*]] = rapid_mem.alloc : !rapid_mem.buffer<70xf16, lx>
// MEM-NEXT:        %[[READY:.*]] = rapid_mem.ready
// MEM-NEXT:        %[[L0:.*]] = rapid_mem.dma queue 0 %[[T0]] <offset 0, dims {40:1}>, %[[X]] <offset 0, core 40, dims {40:1}> after(%[[READY]])
// MEM-NEXT:        rapid_mem.dma queue 0 %[[C]] <offset 0, core 40, dims {40:1}>, %[[T0]] <offset 0, dims {40:1}> after(%[[L0]])
// MEM-NEXT:        %[[L1:.*]] = rapid_mem.dma queue 1 %[[T1]] <offset 0, dims {70:1}>, %[[Y]] <offset 0, core 70, dims {70:1}> after(%[[READY]])
// MEM-NEXT:        rapid_mem.dma queue 1 %[[C]] <offset 120, core 70, dims {70:1}>, %[[T1]] <offset 0, dims {70:1}> after(%[[L1]])
// MEM-NEXT:      }
// The transpose reads its tile with permuted strides and stores it contiguously.
// MEM:         rapid_mem.kernel "nhwc" cores 3 corelets 1(%y, %out1)
// MEM:           rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {10:7, 7:1}>, %{{.*}} <offset 0, core 10, dims {10:1, 7:30}>
// MEM-NEXT:      rapid_mem.dma queue 0 %{{.*}} <offset 0, core 70, dims {70:1}>, %{{.*}} <offset 0, dims {70:1}>

// Pinned: the transpose on one core steps 6 times over d1_2: a hardware loop of 3, unrolled
// over the two lanes, carrying each lane's "tile free" token (its last store). The concat
// on two cores without double buffering: one lane, a loop per piece and a ragged last step.
// PINNED-LABEL: func.func @inception
// PINNED:         rapid_mem.kernel "cat" cores 2 corelets 1
// PINNED:           %[[FREE:.*]] = rapid_mem.loop "d1_2_3" 3 carry(%{{.*}}) -> !rapid_mem.token {
// PINNED:             rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {20:1}>, %{{.*}} <offset 0, core 60, loops {d1_2_3: 20}, dims {20:1}>
// PINNED:           rapid_mem.loop "d1_2_3" 5 carry(%[[FREE]]) -> !rapid_mem.token {
// PINNED:             rapid_mem.dma queue 0 %{{.*}} <offset 120, core 105, loops {d1_2_3: 20}, dims {20:1}>
// PINNED:           rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {5:1}>, %{{.*}} <offset 100, core 105, dims {5:1}>
// PINNED:         rapid_mem.kernel "nhwc" cores 1 corelets 1
// PINNED-COUNT-2:   rapid_mem.alloc : !rapid_mem.buffer<5x7xf16, lx>
// PINNED-NEXT:      %[[R:.*]] = rapid_mem.ready
// PINNED-NEXT:      rapid_mem.loop "d1_2" 3 carry(%[[R]], %[[R]]) -> !rapid_mem.token, !rapid_mem.token {
// PINNED-NEXT:      ^bb0(%[[F0:.*]]: !rapid_mem.token, %[[F1:.*]]: !rapid_mem.token):
// PINNED-NEXT:        %[[A:.*]] = rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {5:7, 7:1}>, %{{.*}} <offset 0, loops {d1_2: 10}, dims {5:1, 7:30}> after(%[[F0]])
// PINNED-NEXT:        %[[SA:.*]] = rapid_mem.dma queue 0 %{{.*}} <offset 0, loops {d1_2: 70}, dims {35:1}>, %{{.*}} <offset 0, dims {35:1}> after(%[[A]])
// PINNED-NEXT:        %[[B:.*]] = rapid_mem.dma queue 1 %{{.*}} <offset 0, dims {5:7, 7:1}>, %{{.*}} <offset 5, loops {d1_2: 10}, dims {5:1, 7:30}> after(%[[F1]])
// PINNED-NEXT:        %[[SB:.*]] = rapid_mem.dma queue 1 %{{.*}} <offset 35, loops {d1_2: 70}, dims {35:1}>, %{{.*}} <offset 0, dims {35:1}> after(%[[B]])
// PINNED-NEXT:        rapid_mem.next %[[SA]], %[[SB]]

// SPLIT: rapid-opt: error: {{.*}}convert-nn-to-tile: layer 'cat': cores(d1_2_3=4) does not divide the pieces of the tensor along d1_2_3 (their extents are multiples of 30): every core runs the same code on an equal share of each
// SPLIT-NOT: Traceback

// -----

func.func @parts(%x: tensor<2x9xf32> {nn.name = "x"}) -> (tensor<2x2xf32> {nn.name = "a"}, tensor<2x7xf32> {nn.name = "b"}) {
  %a, %b = nn.split %x axis 1 sizes [2, 7] {nn.name = "parts"} : (tensor<2x9xf32>) -> (tensor<2x2xf32>, tensor<2x7xf32>)
  func.return %a, %b : tensor<2x2xf32>, tensor<2x7xf32>
}

// A split is one kernel with a result (and a DRAM buffer) per part.
// TILE-LABEL: func.func @parts
// TILE-NEXT:    %a, %b = rapid_tile.kernel "parts" mapping <"cores(d0=2) corelets() rows() cols() simd() order(d0,d1) lx(d0=1,d1=9) l0() double_buffer">(%x) : (tensor<2x9xf32>) -> (tensor<2x2xf32>, tensor<2x7xf32>)

// MEM-LABEL: func.func @parts
// MEM-NEXT:    rapid_mem.kernel "parts" cores 2 corelets 1(%x, %out0, %out1)
// MEM:           rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {2:1}>, %{{.*}} <offset 0, core 9, dims {2:1}>
// MEM-NEXT:      rapid_mem.dma queue 0 %{{.*}} <offset 0, core 2, dims {2:1}>, %{{.*}} <offset 0, dims {2:1}>
// MEM-NEXT:      rapid_mem.dma queue 1 %{{.*}} <offset 0, dims {7:1}>, %{{.*}} <offset 2, core 9, dims {7:1}>
// MEM-NEXT:      rapid_mem.dma queue 1 %{{.*}} <offset 0, core 7, dims {7:1}>, %{{.*}} <offset 0, dims {7:1}>

// -----

// Parts that are runs of consecutive elements (rows of a row-major tensor): views of the
// input at their offsets, no kernel; the relus read them.
func.func @rows(%x: tensor<3x4xf32> {nn.name = "x"}) -> (tensor<1x4xf32> {nn.name = "a"}, tensor<2x4xf32> {nn.name = "b"}) {
  %p, %q = nn.split %x axis 0 sizes [1, 2] {nn.name = "rows"} : (tensor<3x4xf32>) -> (tensor<1x4xf32>, tensor<2x4xf32>)
  %a = nn.relu %p {nn.name = "ra"} : tensor<1x4xf32>
  %b = nn.relu %q {nn.name = "rb"} : tensor<2x4xf32>
  func.return %a, %b : tensor<1x4xf32>, tensor<2x4xf32>
}

// MEM-LABEL: func.func @rows
// MEM-NEXT:    %[[P:.*]] = rapid_mem.view %x offset 0 : !rapid_mem.buffer<3x4xf16, dram> -> !rapid_mem.buffer<1x4xf16, dram>
// MEM-NEXT:    %[[Q:.*]] = rapid_mem.view %x offset 4 : !rapid_mem.buffer<3x4xf16, dram> -> !rapid_mem.buffer<2x4xf16, dram>
// MEM-NOT:     rapid_mem.kernel "rows"
// MEM:         rapid_mem.kernel "ra" {{.*}}(%[[P]], %out0)
// MEM:         rapid_mem.kernel "rb" {{.*}}(%[[Q]], %out1)

// -----

func.func @pads(%x: tensor<2x3x5xf32> {nn.name = "x"}) -> (tensor<2x3x8xf32> {nn.name = "c"}, tensor<2x3x8xf32> {nn.name = "r"}, tensor<2x3x8xf32> {nn.name = "e"}) {
  %c = nn.pad %x pads [0, 0, 1, 0, 0, 2] mode constant value 1.500000e+00 {nn.name = "const"} : (tensor<2x3x5xf32>) -> tensor<2x3x8xf32>
  %r = nn.pad %x pads [0, 0, 1, 0, 0, 2] mode reflect value 0.000000e+00 {nn.name = "reflect"} : (tensor<2x3x5xf32>) -> tensor<2x3x8xf32>
  %e = nn.pad %x pads [0, 0, 1, 0, 0, 2] mode edge value 0.000000e+00 {nn.name = "edge"} : (tensor<2x3x5xf32>) -> tensor<2x3x8xf32>
  func.return %c, %r, %e : tensor<2x3x8xf32>, tensor<2x3x8xf32>, tensor<2x3x8xf32>
}

// TILE-LABEL: func.func @pads
// TILE:         rapid_tile.kernel "const" mapping <"cores(d0_1=3) corelets() rows() cols() simd() order(d0_1,d2) lx(d0_1=2,d2=8) l0() double_buffer">
// TILE:         rapid_tile.kernel "reflect" mapping <"cores(d0_1=3)
// TILE:         rapid_tile.kernel "edge" mapping <"cores(d0_1=3)

// Constant: the border columns are fills (a DMA from LX whose source is all padding, the
// pad value its padval: nothing is read, no token needed), the input one copy.
// MEM-LABEL: func.func @pads
// MEM:         rapid_mem.kernel "const" cores 3 corelets 1
// MEM:           rapid_mem.dma queue 0 %{{.*}} <offset 0, core 16, dims {2:8}>, %{{.*}} <offset 0, dims {2:0}, pads {2:0}> padval 1.500000e+00 : f32 after()
// MEM-NEXT:      rapid_mem.dma queue 1 %{{.*}} <offset 6, core 16, dims {2:8, 2:1}>, %{{.*}} <offset 0, dims {2:0, 2:0}, pads {2:0, 0:0}> padval 1.500000e+00 : f32 after()
// MEM-NEXT:      rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {10:1}>, %{{.*}} <offset 0, core 10, dims {10:1}>
// MEM-NEXT:      rapid_mem.dma queue 0 %{{.*}} <offset 1, core 16, dims {2:8, 5:1}>, %{{.*}} <offset 0, dims {2:5, 5:1}>
// Reflect: the mirrored columns read backwards from the one next to the edge (stride -1).
// MEM:         rapid_mem.kernel "reflect" cores 3 corelets 1
// MEM:           rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {2:1}>, %{{.*}} <offset 1, core 10, dims {2:5}>
// MEM:           rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {2:2, 2:1}>, %{{.*}} <offset 3, core 10, dims {2:5, 2:-1}>
// MEM-NEXT:      rapid_mem.dma queue 0 %{{.*}} <offset 6, core 16, dims {2:8, 2:1}>
// Edge: the last column read twice (stride 0).
// MEM:         rapid_mem.kernel "edge" cores 3 corelets 1
// MEM:           rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {2:2, 2:1}>, %{{.*}} <offset 4, core 10, dims {2:5, 2:0}>
