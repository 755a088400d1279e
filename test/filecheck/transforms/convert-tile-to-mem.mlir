// convert-tile-to-mem: a matrix-product kernel becomes a rapid_mem kernel on DRAM buffers.
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-1c strategy=fixed},convert-tile-to-mem{machine=rapid-1c}' | filecheck %s
// RUN: rapid-opt %inputs/ragged-matmul.mlir -p 'convert-nn-to-tile{machine=rapid-4c strategy=fixed},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=RAGGED
// RUN: rapid-opt %inputs/ragged-matmul.mlir -p 'convert-nn-to-tile{machine=rapid-4c strategy=fixed mapping-file="%inputs/split-reduction.json"},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=REDUCTION
// RUN: rapid-opt %inputs/ragged-matmul.mlir -p 'convert-nn-to-tile{machine=rapid-4c strategy=fixed mapping-file="%inputs/split-reduction.json"},convert-tile-to-mem{machine=rapid-4c},rapid-mem-allocate{machine=rapid-4c},convert-mem-to-isa{machine=rapid-4c}' -t rasm | filecheck %s --check-prefix=RING-ISA
// RUN: rapid-opt %inputs/ic-split-conv.mlir -p 'convert-nn-to-tile{machine=rapid-4c strategy=fixed mapping-file="%inputs/ic-split-conv.json"},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=CONV-RING
// RUN: rapid-opt %inputs/rotated-matmul.mlir -p 'convert-nn-to-tile{machine=rapid-1c mapping-file="%inputs/rotated-matmul.json"},convert-tile-to-mem{machine=rapid-1c}' | filecheck %s --check-prefix=ROTATED
// RUN: rapid-opt %inputs/kept-conv.mlir -p 'convert-nn-to-tile{machine=rapid-4c mapping-file="%inputs/kept-conv.json"},convert-tile-to-mem{machine=rapid-4c},rapid-mem-allocate{machine=rapid-4c}' | filecheck %s --check-prefix=KEPT
// RUN: rapid-opt %inputs/residual-conv.mlir -p 'convert-nn-to-tile{machine=rapid-1c mapping-file="%inputs/residual-conv.json"},convert-tile-to-mem{machine=rapid-1c}' | filecheck %s --check-prefix=RESIDUAL
// RUN: rapid-opt %inputs/lstm-cell.mlir -p 'convert-nn-to-tile{machine=rapid-1c mapping-file="%inputs/lstm-cell.json"},convert-tile-to-mem{machine=rapid-1c}' | filecheck %s --check-prefix=GROUP
// RUN: sed 's/, "kept_input": true//' %inputs/kept-conv.json > %t.alone.json
// RUN: not rapid-opt %inputs/kept-conv.mlir -p 'convert-nn-to-tile{machine=rapid-4c mapping-file="%t.alone.json"},convert-tile-to-mem{machine=rapid-4c}' 2>&1 | filecheck %s --check-prefix=KEPT-ALONE
// RUN: sed '/conv3/s/"cores": {"oh": 2}, "corelets": {"ow": 2}/"cores": {"ow": 2}, "corelets": {"oh": 2}/' %inputs/kept-conv.json > %t.split.json
// RUN: not rapid-opt %inputs/kept-conv.mlir -p 'convert-nn-to-tile{machine=rapid-4c mapping-file="%t.split.json"},convert-tile-to-mem{machine=rapid-4c}' 2>&1 | filecheck %s --check-prefix=KEPT-SPLIT
// RUN: sed '/conv3/s/"ic": 16, "kh"/"ic": 8, "kh"/; /conv3/s/"ic": 16}/"ic": 8}/' %inputs/kept-conv.json > %t.step.json
// RUN: not rapid-opt %inputs/kept-conv.mlir -p 'convert-nn-to-tile{machine=rapid-4c mapping-file="%t.step.json"},convert-tile-to-mem{machine=rapid-4c}' 2>&1 | filecheck %s --check-prefix=KEPT-STEP

func.func @main(%a: tensor<16x32xf32> {nn.name = "A"}, %b: tensor<32x10xf32> {nn.name = "B"}) -> (tensor<16x10xf32> {nn.name = "C"}) {
  %y = nn.matmul %a, %b {nn.name = "mm"} : (tensor<16x32xf32>, tensor<32x10xf32>) -> tensor<16x10xf32>
  func.return %y : tensor<16x10xf32>
}

// Two corelets split m: each loads its 8 rows of A (through its own DMA queue) and all of
// B; one MPE tile product, the SFU copy out of ACC, the store.
// CHECK:      func.func @main(%a: !rapid_mem.buffer<16x32xf16, dram> {nn.name = "A"}, %b: !rapid_mem.buffer<32x10xf16, dram> {nn.name = "B"}, %out0: !rapid_mem.buffer<16x10xf16, dram> {nn.name = "C"}) {
// CHECK-NEXT:   rapid_mem.kernel "mm" cores 1 corelets 2(%a, %b, %out0)
// CHECK:          rapid_mem.corelet 0 {
// CHECK-NEXT:       %{{.*}} = rapid_mem.alloc : !rapid_mem.buffer<8x32xf16, lx>
// CHECK-NEXT:       %{{.*}} = rapid_mem.alloc : !rapid_mem.buffer<32x10xf16, lx>
// CHECK-NEXT:       %{{.*}} = rapid_mem.alloc : !rapid_mem.buffer<8x10xf16, lx>
// CHECK-NEXT:       %{{.*}} = rapid_mem.alloc : !rapid_mem.buffer<8x10xf32, acc>
// CHECK-NEXT:       %{{.*}} = rapid_mem.ready
// CHECK-NEXT:       %[[A:.*]] = rapid_mem.dma queue 0 {{.*}} <offset 0, dims {8:32, 32:1}>
// CHECK-NEXT:       %[[B:.*]] = rapid_mem.dma queue 0 {{.*}} <offset 0, dims {32:10, 10:1}>
// CHECK-NEXT:       %[[M:.*]] = rapid_mem.mpe {{.*}} after(%[[B]])
// CHECK-NEXT:       %[[S:.*]] = rapid_mem.sfu "copy"{{.*}} after(%[[M]],
// CHECK-NEXT:       %{{.*}} = rapid_mem.dma queue 0 {{.*}} after(%[[S]])
// CHECK:          rapid_mem.corelet 1 {
// CHECK:            rapid_mem.dma queue 1 {{.*}} <offset 256, dims {8:32, 32:1}>

// 7 x 10 on rapid-4c: the cores split n = 10 into parts of 3 (the last core gets 1 column),
// the corelets m = 7 into 4 + 3 rows. The first three cores run one SPMD region per corelet
// (the `core 3` coefficient moves each core to its columns); the last core has its own.
// RAGGED:      rapid_mem.kernel "mm" cores 4 corelets 2
// RAGGED:        rapid_mem.corelet 0 cores 0 to 2 {
// RAGGED-NEXT:     rapid_mem.alloc : !rapid_mem.buffer<4x16xf16, lx>
// RAGGED-NEXT:     rapid_mem.alloc : !rapid_mem.buffer<16x3xf16, lx>
// RAGGED:          rapid_mem.dma queue 0 {{.*}} <offset 0, core 3, dims {16:10, 3:1}>
// RAGGED:          rapid_mem.mpe {{.*}} <offset 0, dims {1:0, 4:3, 3:1}>
// RAGGED:        rapid_mem.corelet 1 cores 0 to 2 {
// RAGGED:          rapid_mem.mpe {{.*}} <offset 0, dims {1:0, 3:3, 3:1}>
// RAGGED:        rapid_mem.corelet 0 cores 3 to 3 {
// RAGGED:          rapid_mem.dma queue 0 {{.*}} <offset 0, core 3, dims {16:10, 1:1}>
// RAGGED:          rapid_mem.mpe {{.*}} <offset 0, dims {1:0, 4:1, 1:1}>
// RAGGED:          rapid_mem.dma queue 0 {{.*}} <offset 0, core 3, dims {4:10, 1:1}>
// RAGGED:        rapid_mem.corelet 1 cores 3 to 3 {
// RAGGED:          rapid_mem.dma queue 1 {{.*}} <offset 40, core 3, dims {3:10, 1:1}>

// A split of the reduction dim (k = 16 over 2 cores, ring_reduction.py): each core's
// partial sums go from ACC to an f32 LX buffer of the whole output; after a barrier every
// core sends column block o (5 of the 10 columns) to core o's receive buffer, slot `core`;
// after a second barrier each owner adds its slots, rounds to f16 and stores its block.
// REDUCTION:       rapid_mem.kernel "mm" cores 2 corelets 1
// REDUCTION:         rapid_mem.corelet 0 {
// REDUCTION:           rapid_mem.dma queue 0 {{.*}}, %{{.*}} <offset 0, core 8, dims {7:16, 8:1}>
// REDUCTION:           rapid_mem.sfu "copy"(%{{.*}}, %{{.*}}) {{.*}} : !rapid_mem.buffer<7x10xf32, lx>, !rapid_mem.buffer<7x10xf32, acc>
// REDUCTION:         rapid_mem.barrier after()
// REDUCTION-NEXT:    rapid_mem.dma queue 0 %{{.*}} <offset 0, core 35, dims {7:5, 5:1}>, %{{.*}} <offset 0, dims {7:10, 5:1}> to_core 0
// REDUCTION-NEXT:    rapid_mem.dma queue 1 %{{.*}} <offset 0, core 35, dims {7:5, 5:1}>, %{{.*}} <offset 5, dims {7:10, 5:1}> to_core 1
// REDUCTION-NEXT:    rapid_mem.barrier after()
// REDUCTION-NEXT:    rapid_mem.corelet 0 {
// REDUCTION:           rapid_mem.sfu "add"
// REDUCTION-SAME:        <offset 0, dims {7:5, 5:1}>, #rapid_mem.access<offset 0, dims {7:5, 5:1}>, #rapid_mem.access<offset 35, dims {7:5, 5:1}>
// REDUCTION:           rapid_mem.sfu "copy"
// REDUCTION:           rapid_mem.dma queue 1 %{{.*}} <offset 0, core 5, dims {7:10, 5:1}>

// In the ISA: an in-kernel barrier is a join (the other streams signal the leader, which
// waits, meets the other cores and lets them go); the send to the other core is `lx@C`.
// RING-ISA-LABEL: .core 0
// RING-ISA-NEXT:  .stream dma0
// RING-ISA:         loop 3, 1
// RING-ISA-NEXT:    wait s[[JOIN:[0-9]+]]
// RING-ISA-NEXT:    barrier
// RING-ISA-NEXT:    signal s[[GO:[0-9]+]]
// RING-ISA:         dma.copy lx@0[0x180] f32 {7:5, 5:1}, lx[0x0] f32 {7:10, 5:1}
// RING-ISA-NEXT:    loop 3, 1
// RING-ISA-NEXT:    wait s[[JOIN]]
// RING-ISA-NEXT:    barrier
// RING-ISA-LABEL: .stream dma1
// RING-ISA-NEXT:    signal s[[JOIN]]
// RING-ISA-NEXT:    wait s[[GO]]
// RING-ISA-NEXT:    dma.copy lx@1[0x180] f32 {7:5, 5:1}, lx[0x14] f32 {7:10, 5:1}

// A conv's input channels split over cores (ic = 5 over 2: 3 and 2, two regions): each
// core's partial sums leave ACC [oh][ow][oc] into the f32 NCHW output [oc][oh * ow]; the
// ring reduction cuts it into column blocks of 8 pixels; the owner adds the bias, one
// value per row (output channel), broadcast over the columns.
// CONV-RING:       rapid_mem.kernel "conv" cores 2 corelets 1
// CONV-RING:         %[[PART:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<6x16xf32, lx>
// CONV-RING-NEXT:    %[[RECV:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<2x6x8xf32, lx>
// CONV-RING:         rapid_mem.corelet 0 cores 0 to 0 {
// CONV-RING:           rapid_mem.dma queue 0 {{.*}}, %{{.*}} <offset 0, core 48, dims {3:16, 6:4, 6:1}, pads {0:0, 1:1, 1:1}>
// CONV-RING:           rapid_mem.sfu "copy"(%[[PART]], %{{.*}}) accesses [#rapid_mem.access<offset 0, dims {6:16, 4:4, 4:1}>, #rapid_mem.access<offset 0, dims {6:1, 4:24, 4:6}>]
// CONV-RING:         rapid_mem.corelet 0 cores 1 to 1 {
// CONV-RING:           rapid_mem.dma queue 0 {{.*}}, %{{.*}} <offset 0, core 48, dims {2:16, 6:4, 6:1}, pads {0:0, 1:1, 1:1}>
// CONV-RING:         rapid_mem.barrier after()
// CONV-RING-NEXT:    rapid_mem.dma queue 0 %[[RECV]] <offset 0, core 48, dims {6:8, 8:1}>, %[[PART]] <offset 0, dims {6:16, 8:1}> to_core 0
// CONV-RING-NEXT:    rapid_mem.dma queue 1 %[[RECV]] <offset 0, core 48, dims {6:8, 8:1}>, %[[PART]] <offset 8, dims {6:16, 8:1}> to_core 1
// CONV-RING-NEXT:    rapid_mem.barrier after()
// CONV-RING:           rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {6:1}>, %{{.*}} <offset 0, dims {6:1}>
// CONV-RING-NEXT:      rapid_mem.sfu "add"({{.*}}) accesses [{{.*}}, #rapid_mem.access<offset 0, dims {6:1, 8:0}>]
// CONV-RING-NEXT:      rapid_mem.sfu "relu"
// CONV-RING-NEXT:      rapid_mem.dma queue 1 %{{.*}} <offset 0, core 8, dims {6:16, 8:1}>

// Rotated LX output tiles (mapping/rotation.py): m in 4 LX tiles of 8 rows, each reducing
// k in two double-buffered LX steps. A prologue loads the first tile's first step (slot
// 0); the loop runs the first three tiles: step 0 works on the carried (prefetched) loads,
// then step 1's loads (slot 1), then the next tile's step-0 loads (slot 0, 8 rows on:
// offset 256 + 256 per iteration, after the MPE that read slot 0), then step 1's work,
// epilogue and store, so the next tile's loads queue before the store. The last tile is
// peeled and prefetches nothing.
// ROTATED:      %[[A0:.*]] = rapid_mem.dma queue 0 %[[SA0:[0-9]+]] <offset 0, dims {8:16, 16:1}>, %0 <offset 0, dims {8:32, 16:1}>
// ROTATED-NEXT: %[[B0:.*]] = rapid_mem.dma queue 0 %[[SB0:[0-9]+]] <offset 0, dims {16:16, 16:1}>, %1 <offset 0,
// ROTATED-NEXT: rapid_mem.loop "m" 3 carry({{.*}}, %[[A0]], %[[B0]])
// ROTATED-NEXT: ^bb0({{.*}}, %[[PA:.*]]: !rapid_mem.token, %[[PB:.*]]: !rapid_mem.token):
// ROTATED-NEXT:   %[[M0:.*]] = rapid_mem.mpe {{.*}}, %[[SA0]] {{.*}} after(%[[PA]], %[[PB]],
// ROTATED-NEXT:   rapid_mem.dma queue 0 {{.*}}, %0 <offset 16, loops {m: 256}, dims {8:32, 16:1}>
// ROTATED-NEXT:   rapid_mem.dma queue 0 {{.*}}, %1 <offset 256, dims {16:16, 16:1}>
// ROTATED-NEXT:   %[[NA:.*]] = rapid_mem.dma queue 0 %[[SA0]] <offset 0, dims {8:16, 16:1}>, %0 <offset 256, loops {m: 256}, dims {8:32, 16:1}> after(%[[M0]])
// ROTATED-NEXT:   %[[NB:.*]] = rapid_mem.dma queue 0 %[[SB0]] <offset 0, dims {16:16, 16:1}>, %1 <offset 0,
// ROTATED-NEXT:   rapid_mem.mpe {{.*}} accumulate
// ROTATED-NEXT:   rapid_mem.sfu "copy"
// ROTATED-NEXT:   rapid_mem.dma queue 1 %2 <offset 0, loops {m: 128}
// ROTATED-NEXT:   rapid_mem.next {{.*}}, %[[NA]], %[[NB]]
// ROTATED-NEXT: }
// ROTATED-NEXT: rapid_mem.mpe
// ROTATED-NEXT: rapid_mem.dma queue 0 {{.*}}, %0 <offset 784, dims {8:32, 16:1}>
// ROTATED-NEXT: rapid_mem.dma queue 0 {{.*}}, %1 <offset 256,
// ROTATED-NEXT: rapid_mem.mpe {{.*}} accumulate
// ROTATED-NEXT: rapid_mem.sfu "copy"
// ROTATED-NEXT: rapid_mem.dma queue 1 %2 <offset 384,
// ROTATED-NEXT: }

// An output kept in LX for the next kernel (mapping/forwarding.py): conv2 (3x3) keeps
// every corelet's 16x4x4 share at the top of LX (one key per corelet, one offset on both
// cores) and stores nothing; conv3 (1x1, same split) reads it there and loads no input.
// KEPT:      rapid_mem.kernel "conv2"
// KEPT:      rapid_mem.corelet 0 cores 0 to 0
// KEPT:      %[[K0:.*]] = rapid_mem.alloc at [[OFF0:[0-9]+]] resident "main/kept/conv2/corelet0" : !rapid_mem.buffer<16x4x4xf16, lx>
// KEPT-NOT:  rapid_mem.dma {{.*}} %2
// KEPT:      rapid_mem.sfu "relu"(%[[K0]],
// KEPT-NOT:  rapid_mem.dma {{.*}} %2
// KEPT:      rapid_mem.corelet 1 cores 0 to 0
// KEPT:      rapid_mem.alloc at [[OFF1:[0-9]+]] resident "main/kept/conv2/corelet1"
// KEPT:      rapid_mem.corelet 0 cores 1 to 1
// KEPT:      rapid_mem.alloc at [[OFF0]] resident "main/kept/conv2/corelet0"
// KEPT-NOT:  rapid_mem.dma {{.*}} %2
// KEPT:      rapid_mem.kernel "conv3"
// KEPT:      rapid_mem.corelet 0 {
// KEPT-NEXT: %[[I0:.*]] = rapid_mem.alloc at [[OFF0]] resident "main/kept/conv2/corelet0" : !rapid_mem.buffer<16x4x4xf16, lx>
// KEPT-NOT:  rapid_mem.dma {{.*}}, %0
// KEPT:      rapid_mem.mpe {{.*}}, %[[I0]] <offset 0
// KEPT:      rapid_mem.corelet 1 {
// KEPT-NEXT: rapid_mem.alloc at [[OFF1]] resident "main/kept/conv2/corelet1"
// KEPT-ALONE: error: {{.*}}kept-conv.mlir: convert-tile-to-mem: layer 'conv2': keep_output: the next kernel (conv3) does not take the output from LX (its mapping has no kept_input)
// KEPT-SPLIT: error: {{.*}}layer 'conv2': keep_output for layer 'conv3': the two layers split the tensor differently over cores and corelets (cores(oh=2) corelets(ow=2) against cores(ow=2) corelets(oh=2))
// KEPT-STEP: error: {{.*}}layer 'conv3': kept_input needs every corelet to hold its whole share in one LX tile, but lx(ic=8) steps through a share of 16

// A residual add fused into the conv's epilogue (convert-nn-to-tile, dse): the kernel's
// last operand (the block input x, NCHW) is loaded per LX output tile in the output's
// layout, for the SFU; the epilogue copies ACC out, adds it in place, applies the relu
// and stores.
// RESIDUAL:      rapid_mem.kernel "conv" cores 1 corelets 2(%x, %w, %x, %out0)
// RESIDUAL:      rapid_mem.corelet 0 {
// RESIDUAL:      %[[RES:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<4x8x8xf16, lx>
// RESIDUAL-NEXT: %[[OUT:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<4x8x8xf16, lx>
// RESIDUAL:      %[[LOAD:[0-9]+]] = rapid_mem.dma queue 0 %[[RES]] <offset 0, dims {4:64, 8:8, 8:1}>, %2 <offset 0, dims {4:64, 8:8, 8:1}> after()
// RESIDUAL:      %[[COPY:[0-9]+]] = rapid_mem.sfu "copy"(%[[OUT]], {{.*}} after({{.*}}%[[LOAD]]
// RESIDUAL-NEXT: %[[SUM:[0-9]+]] = rapid_mem.sfu "add"(%[[OUT]], %[[OUT]], %[[RES]]) {{.*}} after(%[[COPY]])
// RESIDUAL-NEXT: %[[RELU:[0-9]+]] = rapid_mem.sfu "relu"(%[[OUT]], %[[OUT]]) {{.*}} after(%[[SUM]])
// RESIDUAL-NEXT: rapid_mem.dma queue 0 %3 {{.*}}, %[[OUT]] {{.*}} after(%[[RELU]])
// RESIDUAL:      rapid_mem.corelet 1 {
// RESIDUAL:      rapid_mem.dma queue 1 {{.*}}, %2 <offset 256, dims {4:64, 8:8, 8:1}>

// An elementwise group (sfu_group.py), one row per step, double-buffered: per slot one load
// of each input (a lone corelet alternates them over its two queues), the SFU chain in program order (a split's parts read at their column,
// none copied), then the stores of the values read outside the group.
// GROUP:      rapid_mem.kernel "t1.gates" cores 1 corelets 1(%xw, %rec, %c0, %out1, %out0)
// GROUP:      rapid_mem.loop "m" 1
// GROUP:      %[[X:[0-9]+]] = rapid_mem.dma queue 0 %[[XW:[0-9]+]] <offset 0, dims {32:1}>, %0 <offset 0, loops {m: 64}, dims {32:1}>
// GROUP-NEXT: %[[R:[0-9]+]] = rapid_mem.dma queue 1 %[[RW:[0-9]+]] <offset 0, dims {32:1}>, %1 <offset 0, loops {m: 64}, dims {32:1}>
// GROUP-NEXT: %[[C:[0-9]+]] = rapid_mem.dma queue 0 %[[CW:[0-9]+]] <offset 0, dims {8:1}>, %2 <offset 0, loops {m: 16}, dims {8:1}>
// GROUP:      %[[ADD:[0-9]+]] = rapid_mem.sfu "add"(%[[G:[0-9]+]], %[[XW]], %[[RW]]) {{.*}} after(%[[X]], %[[R]], %[[C]],
// GROUP-NEXT: rapid_mem.sfu "sigmoid"(%[[S:[0-9]+]], %[[G]]) accesses [#rapid_mem.access<offset 0, dims {24:1}>, #rapid_mem.access<offset 0, dims {24:1}>] imms [] after(%[[ADD]])
// GROUP-NEXT: rapid_mem.sfu "tanh"(%[[T:[0-9]+]], %[[G]]) accesses [#rapid_mem.access<offset 0, dims {8:1}>, #rapid_mem.access<offset 24, dims {8:1}>]
// GROUP-NEXT: rapid_mem.sfu "mul"(%[[IC:[0-9]+]], %[[S]], %[[T]]) accesses [#rapid_mem.access<offset 0, dims {8:1}>, #rapid_mem.access<offset 0, dims {8:1}>, #rapid_mem.access<offset 0, dims {8:1}>]
// GROUP-NEXT: rapid_mem.sfu "mul"(%[[FC:[0-9]+]], %[[S]], %[[CW]]) accesses [#rapid_mem.access<offset 0, dims {8:1}>, #rapid_mem.access<offset 16, dims {8:1}>, #rapid_mem.access<offset 0, dims {8:1}>]
// GROUP-NEXT: rapid_mem.sfu "add"(%[[CN:[0-9]+]], %[[FC]], %[[IC]])
// GROUP-NEXT: rapid_mem.sfu "tanh"(%[[CT:[0-9]+]], %[[CN]])
// GROUP-NEXT: %[[H:[0-9]+]] = rapid_mem.sfu "mul"(%[[HB:[0-9]+]], %[[S]], %[[CT]]) accesses [#rapid_mem.access<offset 0, dims {8:1}>, #rapid_mem.access<offset 8, dims {8:1}>, #rapid_mem.access<offset 0, dims {8:1}>]
// GROUP-NEXT: %[[ST:[0-9]+]] = rapid_mem.dma queue 1 %3 <offset 0, loops {m: 16}, dims {8:1}>, %[[CN]] <offset 0, dims {8:1}> after(%[[H]])
// GROUP-NEXT: rapid_mem.dma queue 1 %4 <offset 0, loops {m: 16}, dims {8:1}>, %[[HB]] <offset 0, dims {8:1}> after(%[[ST]])
// GROUP:      rapid_mem.sfu "add"
// GROUP:      rapid_mem.dma queue 1 %4 <offset 8, loops {m: 16}, dims {8:1}>
// GROUP-NEXT: rapid_mem.next
