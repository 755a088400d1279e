// rapid_mem.host: custom syntax, the generic form round-trips, and its verifier.
// RUN: rapid-opt %s --split-input-file | filecheck %s
// RUN: %roundtrip | filecheck %s
// RUN: rapid-opt %inputs/rapid-mem-host-invalid.mlir --split-input-file --verify-diagnostics | filecheck %s --check-prefix=ERR

func.func @f(%x: !rapid_mem.buffer<6x4xf16, dram>, %i: !rapid_mem.buffer<3xf32, dram>, %lo: !rapid_mem.buffer<2x4xf16, dram>, %g: !rapid_mem.buffer<3x4xf16, dram>) {
  %hi = rapid_mem.scratch : !rapid_mem.buffer<4x4xf16, dram>
  rapid_mem.host "split" ins(%x : !rapid_mem.buffer<6x4xf16, dram>) outs(%lo, %hi : !rapid_mem.buffer<2x4xf16, dram>, !rapid_mem.buffer<4x4xf16, dram>) {
  ^bb0(%a: tensor<6x4xf32>):
    %l, %h = nn.split %a axis 0 sizes [2, 4] : (tensor<6x4xf32>) -> (tensor<2x4xf32>, tensor<4x4xf32>)
    rapid_mem.yield %l, %h : tensor<2x4xf32>, tensor<4x4xf32>
  }
  rapid_mem.host "gather" ins(%hi, %i : !rapid_mem.buffer<4x4xf16, dram>, !rapid_mem.buffer<3xf32, dram>) outs(%g : !rapid_mem.buffer<3x4xf16, dram>) {
  ^bb0(%d: tensor<4x4xf32>, %j: tensor<3xi64>):
    %r = nn.gather %d, %j axis 0 : (tensor<4x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
    rapid_mem.yield %r : tensor<3x4xf32>
  }
  func.return
}

// CHECK:      %hi = rapid_mem.scratch : !rapid_mem.buffer<4x4xf16, dram>
// CHECK-NEXT: rapid_mem.host "split" ins(%x : !rapid_mem.buffer<6x4xf16, dram>) outs(%lo, %hi : !rapid_mem.buffer<2x4xf16, dram>, !rapid_mem.buffer<4x4xf16, dram>) {
// CHECK-NEXT: ^bb0(%a: tensor<6x4xf32>):
// CHECK-NEXT:   %l, %h = nn.split %a axis 0 sizes [2, 4] : (tensor<6x4xf32>) -> (tensor<2x4xf32>, tensor<4x4xf32>)
// CHECK-NEXT:   rapid_mem.yield %l, %h : tensor<2x4xf32>, tensor<4x4xf32>
// CHECK-NEXT: }
// CHECK-NEXT: rapid_mem.host "gather" ins(%hi, %i : !rapid_mem.buffer<4x4xf16, dram>, !rapid_mem.buffer<3xf32, dram>) outs(%g : !rapid_mem.buffer<3x4xf16, dram>) {
// CHECK-NEXT: ^bb0(%d: tensor<4x4xf32>, %j: tensor<3xi64>):
// CHECK-NEXT:   %r = nn.gather %d, %j axis 0 : (tensor<4x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
// CHECK-NEXT:   rapid_mem.yield %r : tensor<3x4xf32>
// CHECK-NEXT: }

// ERR: rapid_mem.host 'a': 1 input buffers but the body has 2 arguments
// ERR: rapid_mem.host 'b': body result 0 is tensor<4x2xf32> but its buffer is !rapid_mem.buffer<2x4xf16, dram>
// ERR: rapid_mem.host 'c': host ops read and write dram buffers, found !rapid_mem.buffer<2x4xf16, lx>
// ERR: rapid_mem.host 'd': 1 output buffers but the body yields 0 values
// ERR: rapid_mem.host 'e': host ops sit between kernels, not in one
