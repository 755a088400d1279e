// convert-tile-to-mem: a matrix-product kernel becomes a rapid_mem kernel on DRAM buffers.
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-1c},convert-tile-to-mem{machine=rapid-1c}' | filecheck %s
// RUN: not rapid-opt %inputs/ragged-matmul.mlir -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}' 2>&1 | filecheck %s --check-prefix=RAGGED

func.func @main(%a: tensor<16x32xf32> {nn.name = "A"}, %b: tensor<32x10xf32> {nn.name = "B"}) -> (tensor<16x10xf32> {nn.name = "C"}) {
  %y = nn.matmul %a, %b {nn.name = "mm"} : (tensor<16x32xf32>, tensor<32x10xf32>) -> tensor<16x10xf32>
  func.return %y : tensor<16x10xf32>
}

// CHECK:      func.func @main(%a: !rapid_mem.buffer<16x32xf16, dram> {nn.name = "A"}, %b: !rapid_mem.buffer<32x10xf16, dram> {nn.name = "B"}, %out0: !rapid_mem.buffer<16x10xf16, dram> {nn.name = "C"}) {
// CHECK-NEXT:   rapid_mem.kernel "mm" cores 1 corelets 2(%a, %b, %out0)
// CHECK:          rapid_mem.corelet 0 {
// CHECK-NEXT:       %{{.*}} = rapid_mem.alloc : !rapid_mem.buffer<8x32xf16, lx>
// CHECK-NEXT:       %{{.*}} = rapid_mem.alloc : !rapid_mem.buffer<32x10xf16, lx>
// CHECK-NEXT:       %{{.*}} = rapid_mem.alloc : !rapid_mem.buffer<8x10xf16, lx>
// CHECK-NEXT:       %{{.*}} = rapid_mem.alloc : !rapid_mem.buffer<8x10xf32, acc>
// CHECK:            rapid_mem.loop "m" 1 carry
// CHECK:              rapid_mem.dma queue 0 {{.*}} <offset 0, loops {m: 256}, dims {8:32, 32:1}>
// CHECK:              rapid_mem.loop "n" 1 carry
// CHECK:                rapid_mem.loop "mi" 1 carry
// CHECK:                  rapid_mem.loop "ni" 1 carry
// CHECK-NEXT:             ^bb{{.*}}
// CHECK-NEXT:               %{{.*}} = rapid_mem.mpe
// CHECK-NEXT:               %{{.*}} = rapid_mem.sfu "copy"
// CHECK-NEXT:               %{{.*}} = rapid_mem.dma queue 0
// CHECK:          rapid_mem.corelet 1 {
// CHECK:              rapid_mem.dma queue 1 {{.*}} <offset 256, loops {m: 256}, dims {8:32, 32:1}>

// RAGGED: rapid-opt: error: {{.*}}convert-tile-to-mem: layer 'mm': cores(n={{[0-9]+}}) does not divide n = 10
// RAGGED-NOT: Traceback
