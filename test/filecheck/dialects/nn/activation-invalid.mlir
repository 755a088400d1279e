// Verifier errors of the fused activation clamp (act_min / act_max) of nn.conv2d and
// nn.gemm; see activation.mlir for the valid forms.
//
// RUN: rapid-opt %s --split-input-file --verify-diagnostics | filecheck %s --match-full-lines

// conv2d: act_min > act_max
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_min 6.0 act_max 0.0 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: act_min 6.0 is greater than act_max 0.0

// -----

// gemm: act_min > act_max
func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>) -> tensor<4x5xf32> {
  %g = nn.gemm %a, %b alpha 1.0 beta 1.0 act_min 1.5 act_max -1.5 : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
  func.return %g : tensor<4x5xf32>
}
// CHECK: nn.gemm: act_min 1.5 is greater than act_max -1.5

// -----

// gemm: a NaN bound (only writable in the generic form)
func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>) -> tensor<4x5xf32> {
  %g = "nn.gemm"(%a, %b) <{alpha = 1.0 : f32, beta = 1.0 : f32, act_max = 0x7FC00000 : f32}> : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
  func.return %g : tensor<4x5xf32>
}
// CHECK: nn.gemm: act_max must be a number but is nan
