// The fused activation clamp of nn.conv2d and nn.gemm (act_min / act_max, either
// optional): custom and generic round trips.
//
// RUN 1 parses the custom syntax and checks the custom print; RUN 2 prints in generic
// form and parses that back (the same CHECK lines match); RUN 3 checks the generic form.
// The verifier's errors are in activation-invalid.mlir.
//
// RUN: rapid-opt %s | filecheck %s
// RUN: %roundtrip | filecheck %s
// RUN: rapid-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @conv_relu6(
// CHECK-NEXT:    %y = nn.conv2d %x, %w bias %b strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 act_min 0.000000e+00 act_max 6.000000e+00 {nn.name = "c1"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NEXT:    func.return %y : tensor<1x4x8x8xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "conv_relu6"
// GENERIC:       %y = "nn.conv2d"(%x, %w, %b) <{strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.000000e+00 : f32, act_max = 6.000000e+00 : f32}> {nn.name = "c1"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
func.func @conv_relu6(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  %y = nn.conv2d %x, %w bias %b strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 act_min 0.0 act_max 6.0 {nn.name = "c1"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  func.return %y : tensor<1x4x8x8xf32>
}

// CHECK-LABEL: func.func @conv_relu(
// CHECK-NEXT:    %y = nn.conv2d %x, %w strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_min 0.000000e+00 : (tensor<1x3x8x8xf16>, tensor<4x3x3x3xf16>) -> tensor<1x4x3x3xf16>
func.func @conv_relu(%x: tensor<1x3x8x8xf16>, %w: tensor<4x3x3x3xf16>) -> tensor<1x4x3x3xf16> {
  %y = nn.conv2d %x, %w strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_min 0.0 : (tensor<1x3x8x8xf16>, tensor<4x3x3x3xf16>) -> tensor<1x4x3x3xf16>
  func.return %y : tensor<1x4x3x3xf16>
}

// CHECK-LABEL: func.func @gemm_act_max(
// CHECK-NEXT:    %y = nn.gemm %a, %b bias %c trans_b alpha 1.000000e+00 beta 1.000000e+00 act_max 2.500000e-01 : (tensor<2x8xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<2x5xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "gemm_act_max"
// GENERIC:       %y = "nn.gemm"(%a, %b, %c) <{trans_b, alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32, act_max = 2.500000e-01 : f32}> : (tensor<2x8xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<2x5xf32>
func.func @gemm_act_max(%a: tensor<2x8xf32>, %b: tensor<5x8xf32>, %c: tensor<5xf32>) -> tensor<2x5xf32> {
  %y = nn.gemm %a, %b bias %c trans_b alpha 1.0 beta 1.0 act_max 0.25 : (tensor<2x8xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<2x5xf32>
  func.return %y : tensor<2x5xf32>
}

// A degenerate clamp (act_min = act_max) is allowed: every element becomes that value.
// CHECK-LABEL: func.func @gemm_point(
// CHECK-NEXT:    %y = nn.gemm %a, %b alpha 1.000000e+00 beta 1.000000e+00 act_min -1.000000e+00 act_max -1.000000e+00 : (tensor<2x8xf32>, tensor<8x5xf32>) -> tensor<2x5xf32>
func.func @gemm_point(%a: tensor<2x8xf32>, %b: tensor<8x5xf32>) -> tensor<2x5xf32> {
  %y = nn.gemm %a, %b alpha 1.0 beta 1.0 act_min -1.0 act_max -1.0 : (tensor<2x8xf32>, tensor<8x5xf32>) -> tensor<2x5xf32>
  func.return %y : tensor<2x5xf32>
}
