// Host fallback: nn ops with no device lowering (here: marked `nn.host`) become
// rapid_mem.host ops between the kernels (convert-tile-to-mem), then manifest entries and
// `host N` calls issued by core 0's leader stream between the joins (convert-mem-to-isa).
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-1c},convert-tile-to-mem{machine=rapid-1c}' | filecheck %s
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-1c},convert-tile-to-mem{machine=rapid-1c},rapid-mem-allocate{machine=rapid-1c},convert-mem-to-isa{machine=rapid-1c}' -t rasm | filecheck %s --check-prefix=ASM
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-1c},convert-tile-to-mem{machine=rapid-1c},rapid-mem-allocate{machine=rapid-1c},convert-mem-to-isa{machine=rapid-1c}' | filecheck %s --check-prefix=ISA
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-1c},convert-tile-to-mem{machine=rapid-1c},rapid-mem-allocate{machine=rapid-1c},convert-mem-to-isa{machine=rapid-1c}' --print-op-generic | rapid-opt -t rasm | filecheck %s --check-prefix=ASM

func.func @main(%x: tensor<16x8xf32> {nn.name = "x"}, %b: tensor<16x8xf32> {nn.name = "b"}) -> (tensor<8x8xf32> {nn.name = "y"}, tensor<8x4xf32> {nn.name = "h"}) {
  %t = nn.transpose %x perm [1, 0] {nn.name = "t", nn.host} : (tensor<16x8xf32>) -> tensor<8x16xf32>
  %m = nn.matmul %t, %b {nn.name = "mm"} : (tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<8x8xf32>
  %lo, %hi = nn.split %m axis 1 sizes [4, 4] {nn.name = "split", nn.host} : (tensor<8x8xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>)
  func.return %m, %hi : tensor<8x8xf32>, tensor<8x4xf32>
}

// CHECK:      func.func @main(%x: !rapid_mem.buffer<16x8xf16, dram> {nn.name = "x"}, %b: !rapid_mem.buffer<16x8xf16, dram> {nn.name = "b"}, %out0: !rapid_mem.buffer<8x8xf16, dram> {nn.name = "y"}, %out1: !rapid_mem.buffer<8x4xf16, dram> {nn.name = "h"}) {
// CHECK-NEXT:   %t = rapid_mem.scratch : !rapid_mem.buffer<8x16xf16, dram>
// CHECK-NEXT:   rapid_mem.host "t" ins(%x : !rapid_mem.buffer<16x8xf16, dram>) outs(%t : !rapid_mem.buffer<8x16xf16, dram>) {
// CHECK-NEXT:   ^bb0(%[[X:.*]]: tensor<16x8xf32>):
// CHECK-NEXT:     %[[T:.*]] = nn.transpose %[[X]] perm [1, 0] {nn.name = "t", nn.host} : (tensor<16x8xf32>) -> tensor<8x16xf32>
// CHECK-NEXT:     rapid_mem.yield %[[T]] : tensor<8x16xf32>
// CHECK-NEXT:   }
// CHECK-NEXT:   rapid_mem.kernel "mm" cores 1 corelets {{[0-9]}}(%t, %b, %out0)
// CHECK:        %[[LO:split_out0]] = rapid_mem.scratch : !rapid_mem.buffer<8x4xf16, dram>
// CHECK-NEXT:   rapid_mem.host "split" ins(%out0 : !rapid_mem.buffer<8x8xf16, dram>) outs(%[[LO]], %out1 : !rapid_mem.buffer<8x4xf16, dram>, !rapid_mem.buffer<8x4xf16, dram>) {
// CHECK-NEXT:   ^bb0(%[[M:.*]]: tensor<8x8xf32>):
// CHECK-NEXT:     %{{.*}}, %{{.*}} = nn.split %[[M]] axis 1 sizes [4, 4] {nn.name = "split", nn.host}
// CHECK-NEXT:     rapid_mem.yield
// CHECK-NEXT:   }
// CHECK-NEXT:   func.return

// ASM:      .machine rapid-1c
// ASM-NEXT: .input x f16 [16, 8] @ 0x0
// ASM-NEXT: .input b f16 [16, 8] @ 0x100
// ASM-NEXT: .output y f16 [8, 8] @ 0x200
// ASM-NEXT: .output h f16 [8, 4] @ 0x280
// ASM-NEXT: .host 0 "t"
// ASM-NEXT: .host_in x f16 [16, 8] @ 0x0
// ASM-NEXT: .host_out t f16 [8, 16] @ 0x300
// ASM-NEXT: .host_mlir "func.func @host(%{{.*}}: tensor<16x8xf32>) -> tensor<8x16xf32> {"
// ASM-NEXT: .host_mlir "  %{{.*}} = nn.transpose %{{.*}} perm [1, 0] {nn.name = \"t\", nn.host} : (tensor<16x8xf32>) -> tensor<8x16xf32>"
// ASM-NEXT: .host_mlir "  func.return %{{.*}} : tensor<8x16xf32>"
// ASM-NEXT: .host_mlir "}"
// ASM-NEXT: .host 1 "split"
// ASM-NEXT: .host_in y f16 [8, 8] @ 0x200
// ASM-NEXT: .host_out split_out0 f16 [8, 4] @ 0x400
// ASM-NEXT: .host_out h f16 [8, 4] @ 0x280
// ASM-NEXT: .host_mlir "func.func @host(%{{.*}}: tensor<8x8xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>) {"
// ASM:      .core 0
// ASM-NEXT: .stream dma0
// ASM-NEXT:     loop {{[0-9]+}}, 1
// ASM-NEXT:     wait s[[JOIN:[0-9]+]]
// ASM-NEXT:     host 0
// ASM:          wait s[[JOIN]]
// ASM-NEXT:     host 1
// ASM-NEXT:     halt
// ASM-NEXT: .stream dma1
// ASM-NEXT:     signal s[[JOIN]]
// ASM-NEXT:     wait s{{[0-9]+}}
// ASM:          signal s[[JOIN]]
// ASM-NEXT:     halt

// ISA:      rapid_isa.host_op 0 "t" reads [#rapid_isa.host_tensor<"x" f16 [16, 8] at 0>] writes [#rapid_isa.host_tensor<"t" f16 [8, 16] at 768>] function "func.func @host(%x: tensor<16x8xf32>) -> tensor<8x16xf32> {\0A  %t = nn.transpose %x perm [1, 0] {nn.name = \22t\22, nn.host} : (tensor<16x8xf32>) -> tensor<8x16xf32>\0A  func.return %t : tensor<8x16xf32>\0A}"
// ISA-NEXT: rapid_isa.host_op 1 "split" reads [#rapid_isa.host_tensor<"y" f16 [8, 8] at 512>] writes [#rapid_isa.host_tensor<"split_out0" f16 [8, 4] at 1024>, #rapid_isa.host_tensor<"h" f16 [8, 4] at 640>] function "func.func @host(
// ISA:          rapid_isa.host 0 {origin = "t"}
// ISA:          rapid_isa.host 1 {origin = "split"}
