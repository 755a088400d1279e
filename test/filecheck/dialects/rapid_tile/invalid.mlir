// The rapid_tile verifiers.
// RUN: rapid-opt %s --split-input-file --verify-diagnostics | filecheck %s

// a mapping text that does not parse
func.func @f(%x: tensor<2x4xf32>, %w: tensor<4x3xf32>) -> tensor<2x3xf32> {
  %y = rapid_tile.kernel "mm" mapping <"rows(m) tiles(m=2)">(%x, %w) : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32> {
  ^bb0(%a: tensor<2x4xf32>, %b: tensor<4x3xf32>):
    %c = nn.matmul %a, %b : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
    rapid_tile.yield %c : tensor<2x3xf32>
  }
  func.return %y : tensor<2x3xf32>
}
// CHECK: rapid_tile.mapping: mapping text: unknown clause 'tiles' (expected cores, corelets, rows, cols, simd, order, lx, l0, double_buffer, resident, prefetch, keep_output, share_output, kept_input, residual_add or group)

// -----

// body arguments that differ from the kernel's inputs
func.func @f(%x: tensor<2x4xf32>, %w: tensor<4x3xf32>) -> tensor<2x3xf32> {
  %y = rapid_tile.kernel "mm" mapping <"rows(m)">(%x, %w) : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32> {
  ^bb0(%a: tensor<2x4xf32>):
    %c = "test.op"() : () -> tensor<2x3xf32>
    rapid_tile.yield %c : tensor<2x3xf32>
  }
  func.return %y : tensor<2x3xf32>
}
// CHECK: rapid_tile.kernel 'mm': the body takes (tensor<2x4xf32>) but the kernel's inputs are (tensor<2x4xf32>, tensor<4x3xf32>)

// -----

// a yield that differs from the kernel's results
func.func @f(%x: tensor<2x4xf32>, %w: tensor<4x3xf32>) -> tensor<2x3xf32> {
  %y = rapid_tile.kernel "mm" mapping <"rows(m)">(%x, %w) : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32> {
  ^bb0(%a: tensor<2x4xf32>, %b: tensor<4x3xf32>):
    rapid_tile.yield %a : tensor<2x4xf32>
  }
  func.return %y : tensor<2x3xf32>
}
// CHECK: rapid_tile.kernel 'mm': the body yields (tensor<2x4xf32>) but the kernel's results are (tensor<2x3xf32>)

// -----

// a yield outside a kernel
func.func @f(%x: tensor<2x4xf32>) {
  rapid_tile.yield %x : tensor<2x4xf32>
}
// CHECK: 'rapid_tile.yield' expects parent op 'rapid_tile.kernel'
