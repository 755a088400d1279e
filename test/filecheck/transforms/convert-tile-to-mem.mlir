// convert-tile-to-mem: a matrix-product kernel becomes a rapid_mem kernel on DRAM buffers.
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-1c},convert-tile-to-mem{machine=rapid-1c}' | filecheck %s
// RUN: rapid-opt %inputs/ragged-matmul.mlir -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=RAGGED
// RUN: not rapid-opt %inputs/ragged-matmul.mlir -p 'convert-nn-to-tile{machine=rapid-4c mapping-file="%inputs/split-reduction.json"},convert-tile-to-mem{machine=rapid-4c}' 2>&1 | filecheck %s --check-prefix=REDUCTION

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

// What this version still reports: a split of the reduction dim (a ring reduction).
// REDUCTION: rapid-opt: error: {{.*}}convert-tile-to-mem: layer 'mm': cores(k=2) splits a reduction dim; combining partial sums across cores or corelets (a ring reduction) is not lowered yet
// REDUCTION-NOT: Traceback
