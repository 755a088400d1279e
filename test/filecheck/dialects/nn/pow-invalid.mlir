// Verifier errors of nn.pow; see pow.mlir for the valid forms.
//
// RUN: rapid-opt %s --split-input-file --verify-diagnostics | filecheck %s --match-full-lines

// A NaN exponent (only writable in the generic form)
func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = "nn.pow"(%x) <{exponent = 0x7FC00000 : f32}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK: nn.pow: exponent must be a finite number but is nan

// -----

// An infinite exponent
func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = "nn.pow"(%x) <{exponent = 0x7F800000 : f32}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK: nn.pow: exponent must be a finite number but is inf

// -----

// An integer tensor
func.func @f(%x: tensor<2x3xi32>) -> tensor<2x3xi32> {
  %y = nn.pow %x exponent 2.5 : tensor<2x3xi32>
  func.return %y : tensor<2x3xi32>
}
// CHECK: nn.pow: input must have element type f32 or f16 but has i32

// -----

// The result type differs from the input's
func.func @f(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %y = "nn.pow"(%x) <{exponent = 2.5 : f32}> : (tensor<2x3xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}
// CHECK: result 'output' at position 0 does not verify:
// CHECK-NEXT: attribute tensor<2x3xf32> expected from variable 'T', but got tensor<3x2xf32>
