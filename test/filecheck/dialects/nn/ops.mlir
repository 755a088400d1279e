// Custom-syntax and generic round trips of every op of the nn dialect.
//
// RUN 1 parses the custom syntax and checks the custom print; RUN 2 prints the file in
// generic form and parses that back, which must print identically (so the same CHECK
// lines match); RUN 3 checks the generic form of some ops (properties, unit attributes,
// enum attributes and operand segment sizes).
//
// RUN: rapid-opt %s | filecheck %s
// RUN: %roundtrip | filecheck %s
// RUN: rapid-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK: builtin.module {

// CHECK-LABEL: func.func @constant_float(
// CHECK-NEXT:    %c = nn.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-NEXT:    func.return %c : tensor<2x2xf32>
// CHECK-NEXT:  }
func.func @constant_float() -> tensor<2x2xf32> {
  %c = nn.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  func.return %c : tensor<2x2xf32>
}

// CHECK-LABEL: func.func @constant_splat(
// CHECK-NEXT:    %c = nn.constant dense<5.000000e-01> : tensor<4xf32>
// CHECK-NEXT:    func.return %c : tensor<4xf32>
// CHECK-NEXT:  }
func.func @constant_splat() -> tensor<4xf32> {
  %c = nn.constant dense<0.5> : tensor<4xf32>
  func.return %c : tensor<4xf32>
}

// CHECK-LABEL: func.func @constant_int(
// CHECK-NEXT:    %c = nn.constant dense<[0, -1, 2]> : tensor<3xi64>
// CHECK-NEXT:    func.return %c : tensor<3xi64>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "constant_int"
// GENERIC:       %c = "nn.constant"() <{value = dense<[0, -1, 2]> : tensor<3xi64>}> : () -> tensor<3xi64>
func.func @constant_int() -> tensor<3xi64> {
  %c = nn.constant dense<[0, -1, 2]> : tensor<3xi64>
  func.return %c : tensor<3xi64>
}

// CHECK-LABEL: func.func @constant_attr(
// CHECK-NEXT:    %c = nn.constant dense<1.000000e+00> : tensor<1xf32> {tag = "c"}
// CHECK-NEXT:    func.return %c : tensor<1xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "constant_attr"
// GENERIC:       %c = "nn.constant"() <{value = dense<1.000000e+00> : tensor<1xf32>}> {tag = "c"} : () -> tensor<1xf32>
func.func @constant_attr() -> tensor<1xf32> {
  %c = nn.constant dense<1.0> : tensor<1xf32> {tag = "c"}
  func.return %c : tensor<1xf32>
}

// CHECK-LABEL: func.func @weight(
// CHECK-NEXT:    %w = nn.weight "conv1.w" : tensor<64x3x7x7xf32>
// CHECK-NEXT:    func.return %w : tensor<64x3x7x7xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "weight"
// GENERIC:       %w = "nn.weight"() <{weight_name = "conv1.w"}> : () -> tensor<64x3x7x7xf32>
func.func @weight() -> tensor<64x3x7x7xf32> {
  %w = nn.weight "conv1.w" : tensor<64x3x7x7xf32>
  func.return %w : tensor<64x3x7x7xf32>
}

// CHECK-LABEL: func.func @conv2d(
// CHECK-NEXT:    %y = nn.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 : (tensor<1x3x32x32xf32>, tensor<16x3x3x3xf32>) -> tensor<1x16x32x32xf32>
// CHECK-NEXT:    func.return %y : tensor<1x16x32x32xf32>
// CHECK-NEXT:  }
func.func @conv2d(%x: tensor<1x3x32x32xf32>, %w: tensor<16x3x3x3xf32>) -> tensor<1x16x32x32xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 : (tensor<1x3x32x32xf32>, tensor<16x3x3x3xf32>) -> tensor<1x16x32x32xf32>
  func.return %y : tensor<1x16x32x32xf32>
}

// CHECK-LABEL: func.func @conv2d_bias_groups(
// CHECK-NEXT:    %y = nn.conv2d %x, %w bias %b strides [2, 2] pads [0, 1, 0, 0] dilations [2, 2] groups 2 : (tensor<2x8x17x15xf32>, tensor<16x4x3x3xf32>, tensor<16xf32>) -> tensor<2x16x7x6xf32>
// CHECK-NEXT:    func.return %y : tensor<2x16x7x6xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "conv2d_bias_groups"
// GENERIC:       %y = "nn.conv2d"(%x, %w, %b) <{strides = array<i64: 2, 2>, pads = array<i64: 0, 1, 0, 0>, dilations = array<i64: 2, 2>, groups = 2 : i64}> : (tensor<2x8x17x15xf32>, tensor<16x4x3x3xf32>, tensor<16xf32>) -> tensor<2x16x7x6xf32>
func.func @conv2d_bias_groups(%x: tensor<2x8x17x15xf32>, %w: tensor<16x4x3x3xf32>, %b: tensor<16xf32>) -> tensor<2x16x7x6xf32> {
  %y = nn.conv2d %x, %w bias %b strides [2, 2] pads [0, 1, 0, 0] dilations [2, 2] groups 2 : (tensor<2x8x17x15xf32>, tensor<16x4x3x3xf32>, tensor<16xf32>) -> tensor<2x16x7x6xf32>
  func.return %y : tensor<2x16x7x6xf32>
}

// CHECK-LABEL: func.func @conv2d_depthwise(
// CHECK-NEXT:    %y = nn.conv2d %x, %w strides [2, 2] pads [1, 1, 1, 1] dilations [1, 1] groups 16 : (tensor<1x16x8x8xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x4x4xf32>
// CHECK-NEXT:    func.return %y : tensor<1x16x4x4xf32>
// CHECK-NEXT:  }
func.func @conv2d_depthwise(%x: tensor<1x16x8x8xf32>, %w: tensor<16x1x3x3xf32>) -> tensor<1x16x4x4xf32> {
  %y = nn.conv2d %x, %w strides [2, 2] pads [1, 1, 1, 1] dilations [1, 1] groups 16 : (tensor<1x16x8x8xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x4x4xf32>
  func.return %y : tensor<1x16x4x4xf32>
}

// CHECK-LABEL: func.func @matmul_2d(
// CHECK-NEXT:    %y = nn.matmul %a, %b : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
// CHECK-NEXT:    func.return %y : tensor<4x5xf32>
// CHECK-NEXT:  }
func.func @matmul_2d(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>) -> tensor<4x5xf32> {
  %y = nn.matmul %a, %b : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}

// CHECK-LABEL: func.func @matmul_1d(
// CHECK-NEXT:    %y = nn.matmul %a, %b : (tensor<8xf32>, tensor<8x5xf32>) -> tensor<5xf32>
// CHECK-NEXT:    %z = nn.matmul %y, %c : (tensor<5xf32>, tensor<5xf32>) -> tensor<f32>
// CHECK-NEXT:    func.return %y, %z : tensor<5xf32>, tensor<f32>
// CHECK-NEXT:  }
func.func @matmul_1d(%a: tensor<8xf32>, %b: tensor<8x5xf32>, %c: tensor<5xf32>) -> (tensor<5xf32>, tensor<f32>) {
  %y = nn.matmul %a, %b : (tensor<8xf32>, tensor<8x5xf32>) -> tensor<5xf32>
  %z = nn.matmul %y, %c : (tensor<5xf32>, tensor<5xf32>) -> tensor<f32>
  func.return %y, %z : tensor<5xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @matmul_batched(
// CHECK-NEXT:    %y = nn.matmul %a, %b : (tensor<2x1x4x8xf32>, tensor<3x8x5xf32>) -> tensor<2x3x4x5xf32>
// CHECK-NEXT:    func.return %y : tensor<2x3x4x5xf32>
// CHECK-NEXT:  }
func.func @matmul_batched(%a: tensor<2x1x4x8xf32>, %b: tensor<3x8x5xf32>) -> tensor<2x3x4x5xf32> {
  %y = nn.matmul %a, %b : (tensor<2x1x4x8xf32>, tensor<3x8x5xf32>) -> tensor<2x3x4x5xf32>
  func.return %y : tensor<2x3x4x5xf32>
}

// CHECK-LABEL: func.func @gemm(
// CHECK-NEXT:    %y = nn.gemm %a, %b alpha 1.000000e+00 beta 1.000000e+00 : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
// CHECK-NEXT:    func.return %y : tensor<4x5xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "gemm"
// GENERIC:       %y = "nn.gemm"(%a, %b) <{alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32}> : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
func.func @gemm(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b alpha 1.0 beta 1.0 : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}

// CHECK-LABEL: func.func @gemm_bias_trans(
// CHECK-NEXT:    %y = nn.gemm %a, %b bias %c trans_a trans_b alpha 5.000000e-01 beta 2.000000e+00 : (tensor<8x4xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<4x5xf32>
// CHECK-NEXT:    func.return %y : tensor<4x5xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "gemm_bias_trans"
// GENERIC:       %y = "nn.gemm"(%a, %b, %c) <{trans_a, trans_b, alpha = 5.000000e-01 : f32, beta = 2.000000e+00 : f32}> : (tensor<8x4xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<4x5xf32>
func.func @gemm_bias_trans(%a: tensor<8x4xf32>, %b: tensor<5x8xf32>, %c: tensor<5xf32>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b bias %c trans_a trans_b alpha 0.5 beta 2.0 : (tensor<8x4xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}

// CHECK-LABEL: func.func @gemm_trans_b(
// CHECK-NEXT:    %y = nn.gemm %a, %b bias %c trans_b alpha 1.000000e+00 beta 1.000000e+00 : (tensor<1x32xf32>, tensor<10x32xf32>, tensor<1x10xf32>) -> tensor<1x10xf32>
// CHECK-NEXT:    func.return %y : tensor<1x10xf32>
// CHECK-NEXT:  }
func.func @gemm_trans_b(%a: tensor<1x32xf32>, %b: tensor<10x32xf32>, %c: tensor<1x10xf32>) -> tensor<1x10xf32> {
  %y = nn.gemm %a, %b bias %c trans_b alpha 1.0 beta 1.0 : (tensor<1x32xf32>, tensor<10x32xf32>, tensor<1x10xf32>) -> tensor<1x10xf32>
  func.return %y : tensor<1x10xf32>
}

// CHECK-LABEL: func.func @binary(
// CHECK-NEXT:    %0 = nn.add %a, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %1 = nn.sub %c, %0 : (tensor<3x1xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %2 = nn.mul %1, %s : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %3 = nn.div %2, %a : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %4 = nn.max %3, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %5 = nn.min %c, %4 : (tensor<3x1xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    func.return %5 : tensor<2x3x4xf32>
// CHECK-NEXT:  }
func.func @binary(%a: tensor<2x3x4xf32>, %b: tensor<4xf32>, %c: tensor<3x1xf32>, %s: tensor<f32>) -> tensor<2x3x4xf32> {
  %0 = nn.add %a, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %1 = nn.sub %c, %0 : (tensor<3x1xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %2 = nn.mul %1, %s : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %3 = nn.div %2, %a : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %4 = nn.max %3, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %5 = nn.min %c, %4 : (tensor<3x1xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  func.return %5 : tensor<2x3x4xf32>
}

// CHECK-LABEL: func.func @binary_both_broadcast(
// CHECK-NEXT:    %y = nn.add %a, %b : (tensor<3x1xf32>, tensor<1x4xf32>) -> tensor<3x4xf32>
// CHECK-NEXT:    func.return %y : tensor<3x4xf32>
// CHECK-NEXT:  }
func.func @binary_both_broadcast(%a: tensor<3x1xf32>, %b: tensor<1x4xf32>) -> tensor<3x4xf32> {
  %y = nn.add %a, %b : (tensor<3x1xf32>, tensor<1x4xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}

// CHECK-LABEL: func.func @unary(
// CHECK-NEXT:    %0 = nn.relu %x : tensor<2x8xf32>
// CHECK-NEXT:    %1 = nn.sigmoid %0 : tensor<2x8xf32>
// CHECK-NEXT:    %2 = nn.tanh %1 : tensor<2x8xf32>
// CHECK-NEXT:    %3 = nn.erf %2 : tensor<2x8xf32>
// CHECK-NEXT:    %4 = nn.exp %3 : tensor<2x8xf32>
// CHECK-NEXT:    %5 = nn.sqrt %4 : tensor<2x8xf32>
// CHECK-NEXT:    func.return %5 : tensor<2x8xf32>
// CHECK-NEXT:  }
func.func @unary(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %0 = nn.relu %x : tensor<2x8xf32>
  %1 = nn.sigmoid %0 : tensor<2x8xf32>
  %2 = nn.tanh %1 : tensor<2x8xf32>
  %3 = nn.erf %2 : tensor<2x8xf32>
  %4 = nn.exp %3 : tensor<2x8xf32>
  %5 = nn.sqrt %4 : tensor<2x8xf32>
  func.return %5 : tensor<2x8xf32>
}

// CHECK-LABEL: func.func @gelu(
// CHECK-NEXT:    %0 = nn.gelu %x approximate none : tensor<2x8xf32>
// CHECK-NEXT:    %1 = nn.gelu %0 approximate tanh : tensor<2x8xf32>
// CHECK-NEXT:    func.return %1 : tensor<2x8xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "gelu"
// GENERIC:       %0 = "nn.gelu"(%x) <{approximate = #nn<gelu_approximation none>}> : (tensor<2x8xf32>) -> tensor<2x8xf32>
// GENERIC:       %1 = "nn.gelu"(%0) <{approximate = #nn<gelu_approximation tanh>}> : (tensor<2x8xf32>) -> tensor<2x8xf32>
func.func @gelu(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %0 = nn.gelu %x approximate none : tensor<2x8xf32>
  %1 = nn.gelu %0 approximate tanh : tensor<2x8xf32>
  func.return %1 : tensor<2x8xf32>
}

// CHECK-LABEL: func.func @clip(
// CHECK-NEXT:    %0 = nn.clip %x min 0.000000e+00 : tensor<8xf32>
// CHECK-NEXT:    %1 = nn.clip %0 max 6.000000e+00 : tensor<8xf32>
// CHECK-NEXT:    %2 = nn.clip %1 min -1.000000e+00 max 1.000000e+00 : tensor<8xf32>
// CHECK-NEXT:    %3 = nn.clip %2 : tensor<8xf32>
// CHECK-NEXT:    %4 = nn.clip %3 min 2.000000e+00 max 2.000000e+00 : tensor<8xf32>
// CHECK-NEXT:    func.return %4 : tensor<8xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "clip"
// GENERIC:       %0 = "nn.clip"(%x) <{min = 0.000000e+00 : f32}> : (tensor<8xf32>) -> tensor<8xf32>
// GENERIC:       %1 = "nn.clip"(%0) <{max = 6.000000e+00 : f32}> : (tensor<8xf32>) -> tensor<8xf32>
// GENERIC:       %2 = "nn.clip"(%1) <{min = -1.000000e+00 : f32, max = 1.000000e+00 : f32}> : (tensor<8xf32>) -> tensor<8xf32>
// GENERIC:       %3 = "nn.clip"(%2) : (tensor<8xf32>) -> tensor<8xf32>
func.func @clip(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = nn.clip %x min 0.0 : tensor<8xf32>
  %1 = nn.clip %0 max 6.0 : tensor<8xf32>
  %2 = nn.clip %1 min -1.0 max 1.0 : tensor<8xf32>
  %3 = nn.clip %2 : tensor<8xf32>
  %4 = nn.clip %3 min 2.0 max 2.0 : tensor<8xf32>
  func.return %4 : tensor<8xf32>
}

// CHECK-LABEL: func.func @softmax(
// CHECK-NEXT:    %0 = nn.softmax %x axis -1 : tensor<2x10xf32>
// CHECK-NEXT:    %1 = nn.softmax %0 axis 0 : tensor<2x10xf32>
// CHECK-NEXT:    func.return %1 : tensor<2x10xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "softmax"
// GENERIC:       %0 = "nn.softmax"(%x) <{axis = -1 : i64}> : (tensor<2x10xf32>) -> tensor<2x10xf32>
func.func @softmax(%x: tensor<2x10xf32>) -> tensor<2x10xf32> {
  %0 = nn.softmax %x axis -1 : tensor<2x10xf32>
  %1 = nn.softmax %0 axis 0 : tensor<2x10xf32>
  func.return %1 : tensor<2x10xf32>
}

// CHECK-LABEL: func.func @max_pool2d(
// CHECK-NEXT:    %y = nn.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] : (tensor<1x16x32x32xf32>) -> tensor<1x16x16x16xf32>
// CHECK-NEXT:    func.return %y : tensor<1x16x16x16xf32>
// CHECK-NEXT:  }
func.func @max_pool2d(%x: tensor<1x16x32x32xf32>) -> tensor<1x16x16x16xf32> {
  %y = nn.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] : (tensor<1x16x32x32xf32>) -> tensor<1x16x16x16xf32>
  func.return %y : tensor<1x16x16x16xf32>
}

// CHECK-LABEL: func.func @max_pool2d_ceil(
// CHECK-NEXT:    %y = nn.max_pool2d %x kernel [3, 2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] ceil_mode : (tensor<1x4x7x7xf32>) -> tensor<1x4x3x4xf32>
// CHECK-NEXT:    func.return %y : tensor<1x4x3x4xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "max_pool2d_ceil"
// GENERIC:       %y = "nn.max_pool2d"(%x) <{kernel = array<i64: 3, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode}> : (tensor<1x4x7x7xf32>) -> tensor<1x4x3x4xf32>
func.func @max_pool2d_ceil(%x: tensor<1x4x7x7xf32>) -> tensor<1x4x3x4xf32> {
  %y = nn.max_pool2d %x kernel [3, 2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] ceil_mode : (tensor<1x4x7x7xf32>) -> tensor<1x4x3x4xf32>
  func.return %y : tensor<1x4x3x4xf32>
}

// CHECK-LABEL: func.func @max_pool2d_dilated(
// CHECK-NEXT:    %y = nn.max_pool2d %x kernel [3, 3] strides [1, 1] pads [2, 2, 2, 2] dilations [2, 2] : (tensor<1x4x9x9xf32>) -> tensor<1x4x9x9xf32>
// CHECK-NEXT:    func.return %y : tensor<1x4x9x9xf32>
// CHECK-NEXT:  }
func.func @max_pool2d_dilated(%x: tensor<1x4x9x9xf32>) -> tensor<1x4x9x9xf32> {
  %y = nn.max_pool2d %x kernel [3, 3] strides [1, 1] pads [2, 2, 2, 2] dilations [2, 2] : (tensor<1x4x9x9xf32>) -> tensor<1x4x9x9xf32>
  func.return %y : tensor<1x4x9x9xf32>
}

// CHECK-LABEL: func.func @avg_pool2d(
// CHECK-NEXT:    %y = nn.avg_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
// CHECK-NEXT:    func.return %y : tensor<1x4x4x4xf32>
// CHECK-NEXT:  }
func.func @avg_pool2d(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.avg_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}

// CHECK-LABEL: func.func @avg_pool2d_flags(
// CHECK-NEXT:    %0 = nn.avg_pool2d %x kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1] ceil_mode count_include_pad : (tensor<1x4x8x8xf32>) -> tensor<1x4x5x5xf32>
// CHECK-NEXT:    %1 = nn.avg_pool2d %x kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1] count_include_pad : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
// CHECK-NEXT:    %2 = nn.avg_pool2d %x kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1] ceil_mode : (tensor<1x4x8x8xf32>) -> tensor<1x4x5x5xf32>
// CHECK-NEXT:    func.return %0, %1, %2 : tensor<1x4x5x5xf32>, tensor<1x4x4x4xf32>, tensor<1x4x5x5xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "avg_pool2d_flags"
// GENERIC:       %0 = "nn.avg_pool2d"(%x) <{kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, ceil_mode, count_include_pad}> : (tensor<1x4x8x8xf32>) -> tensor<1x4x5x5xf32>
// GENERIC:       %1 = "nn.avg_pool2d"(%x) <{kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, count_include_pad}> : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
// GENERIC:       %2 = "nn.avg_pool2d"(%x) <{kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, ceil_mode}> : (tensor<1x4x8x8xf32>) -> tensor<1x4x5x5xf32>
func.func @avg_pool2d_flags(%x: tensor<1x4x8x8xf32>) -> (tensor<1x4x5x5xf32>, tensor<1x4x4x4xf32>, tensor<1x4x5x5xf32>) {
  %0 = nn.avg_pool2d %x kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1] ceil_mode count_include_pad : (tensor<1x4x8x8xf32>) -> tensor<1x4x5x5xf32>
  %1 = nn.avg_pool2d %x kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1] count_include_pad : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  %2 = nn.avg_pool2d %x kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1] ceil_mode : (tensor<1x4x8x8xf32>) -> tensor<1x4x5x5xf32>
  func.return %0, %1, %2 : tensor<1x4x5x5xf32>, tensor<1x4x4x4xf32>, tensor<1x4x5x5xf32>
}

// CHECK-LABEL: func.func @global_avg_pool(
// CHECK-NEXT:    %0 = nn.global_avg_pool %x : (tensor<1x32x8x8xf32>) -> tensor<1x32x1x1xf32>
// CHECK-NEXT:    %1 = nn.global_avg_pool %v : (tensor<2x3x5xf32>) -> tensor<2x3x1xf32>
// CHECK-NEXT:    func.return %0, %1 : tensor<1x32x1x1xf32>, tensor<2x3x1xf32>
// CHECK-NEXT:  }
func.func @global_avg_pool(%x: tensor<1x32x8x8xf32>, %v: tensor<2x3x5xf32>) -> (tensor<1x32x1x1xf32>, tensor<2x3x1xf32>) {
  %0 = nn.global_avg_pool %x : (tensor<1x32x8x8xf32>) -> tensor<1x32x1x1xf32>
  %1 = nn.global_avg_pool %v : (tensor<2x3x5xf32>) -> tensor<2x3x1xf32>
  func.return %0, %1 : tensor<1x32x1x1xf32>, tensor<2x3x1xf32>
}

// CHECK-LABEL: func.func @batch_norm(
// CHECK-NEXT:    %y = nn.batch_norm %x, %s, %b, %m, %v epsilon 1.000000e-05 : (tensor<1x16x8x8xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x8x8xf32>
// CHECK-NEXT:    func.return %y : tensor<1x16x8x8xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "batch_norm"
// GENERIC:       %y = "nn.batch_norm"(%x, %s, %b, %m, %v) <{epsilon = 1.000000e-05 : f32}> : (tensor<1x16x8x8xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x8x8xf32>
func.func @batch_norm(%x: tensor<1x16x8x8xf32>, %s: tensor<16xf32>, %b: tensor<16xf32>, %m: tensor<16xf32>, %v: tensor<16xf32>) -> tensor<1x16x8x8xf32> {
  %y = nn.batch_norm %x, %s, %b, %m, %v epsilon 1.0e-05 : (tensor<1x16x8x8xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x8x8xf32>
  func.return %y : tensor<1x16x8x8xf32>
}

// CHECK-LABEL: func.func @layer_norm(
// CHECK-NEXT:    %0 = nn.layer_norm %x, %s bias %b axis -1 epsilon 1.000000e-05 : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
// CHECK-NEXT:    %1 = nn.layer_norm %x, %s2 axis 1 epsilon 1.000000e-06 : (tensor<2x5x8xf32>, tensor<5x8xf32>) -> tensor<2x5x8xf32>
// CHECK-NEXT:    func.return %0, %1 : tensor<2x5x8xf32>, tensor<2x5x8xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "layer_norm"
// GENERIC:       %1 = "nn.layer_norm"(%x, %s2) <{axis = 1 : i64, epsilon = 1.000000e-06 : f32}> : (tensor<2x5x8xf32>, tensor<5x8xf32>) -> tensor<2x5x8xf32>
func.func @layer_norm(%x: tensor<2x5x8xf32>, %s: tensor<8xf32>, %b: tensor<8xf32>, %s2: tensor<5x8xf32>) -> (tensor<2x5x8xf32>, tensor<2x5x8xf32>) {
  %0 = nn.layer_norm %x, %s bias %b axis -1 epsilon 1.0e-05 : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  %1 = nn.layer_norm %x, %s2 axis 1 epsilon 1.0e-06 : (tensor<2x5x8xf32>, tensor<5x8xf32>) -> tensor<2x5x8xf32>
  func.return %0, %1 : tensor<2x5x8xf32>, tensor<2x5x8xf32>
}

// CHECK-LABEL: func.func @lrn(
// CHECK-NEXT:    %y = nn.lrn %x size 5 alpha 1.000000e-04 beta 7.500000e-01 bias 1.000000e+00 : (tensor<1x96x27x27xf32>) -> tensor<1x96x27x27xf32>
// CHECK-NEXT:    func.return %y : tensor<1x96x27x27xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "lrn"
// GENERIC:       %y = "nn.lrn"(%x) <{size = 5 : i64, alpha = 1.000000e-04 : f32, beta = 7.500000e-01 : f32, bias = 1.000000e+00 : f32}> : (tensor<1x96x27x27xf32>) -> tensor<1x96x27x27xf32>
func.func @lrn(%x: tensor<1x96x27x27xf32>) -> tensor<1x96x27x27xf32> {
  %y = nn.lrn %x size 5 alpha 1.0e-04 beta 0.75 bias 1.0 : (tensor<1x96x27x27xf32>) -> tensor<1x96x27x27xf32>
  func.return %y : tensor<1x96x27x27xf32>
}

// CHECK-LABEL: func.func @reduce(
// CHECK-NEXT:    %0 = nn.reduce sum %x axes [1] keepdims : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
// CHECK-NEXT:    %1 = nn.reduce mean %x axes [-1, 1] : (tensor<2x3x4xf32>) -> tensor<2xf32>
// CHECK-NEXT:    %2 = nn.reduce max %x axes [] keepdims : (tensor<2x3x4xf32>) -> tensor<1x1x1xf32>
// CHECK-NEXT:    %3 = nn.reduce sum %x axes [] : (tensor<2x3x4xf32>) -> tensor<f32>
// CHECK-NEXT:    func.return %0, %1, %2, %3 : tensor<2x1x4xf32>, tensor<2xf32>, tensor<1x1x1xf32>, tensor<f32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "reduce"
// GENERIC:       %0 = "nn.reduce"(%x) <{kind = #nn<reduce_kind sum>, axes = array<i64: 1>, keepdims}> : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
// GENERIC:       %1 = "nn.reduce"(%x) <{kind = #nn<reduce_kind mean>, axes = array<i64: -1, 1>}> : (tensor<2x3x4xf32>) -> tensor<2xf32>
// GENERIC:       %2 = "nn.reduce"(%x) <{kind = #nn<reduce_kind max>, axes = array<i64>, keepdims}> : (tensor<2x3x4xf32>) -> tensor<1x1x1xf32>
func.func @reduce(%x: tensor<2x3x4xf32>) -> (tensor<2x1x4xf32>, tensor<2xf32>, tensor<1x1x1xf32>, tensor<f32>) {
  %0 = nn.reduce sum %x axes [1] keepdims : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  %1 = nn.reduce mean %x axes [-1, 1] : (tensor<2x3x4xf32>) -> tensor<2xf32>
  %2 = nn.reduce max %x axes [] keepdims : (tensor<2x3x4xf32>) -> tensor<1x1x1xf32>
  %3 = nn.reduce sum %x axes [] : (tensor<2x3x4xf32>) -> tensor<f32>
  func.return %0, %1, %2, %3 : tensor<2x1x4xf32>, tensor<2xf32>, tensor<1x1x1xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @concat(
// CHECK-NEXT:    %0 = nn.concat %a, %b, %c axis 1 : (tensor<1x2x4xf32>, tensor<1x3x4xf32>, tensor<1x1x4xf32>) -> tensor<1x6x4xf32>
// CHECK-NEXT:    %1 = nn.concat %a axis -1 : (tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
// CHECK-NEXT:    func.return %0, %1 : tensor<1x6x4xf32>, tensor<1x2x4xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "concat"
// GENERIC:       %0 = "nn.concat"(%a, %b, %c) <{axis = 1 : i64}> : (tensor<1x2x4xf32>, tensor<1x3x4xf32>, tensor<1x1x4xf32>) -> tensor<1x6x4xf32>
func.func @concat(%a: tensor<1x2x4xf32>, %b: tensor<1x3x4xf32>, %c: tensor<1x1x4xf32>) -> (tensor<1x6x4xf32>, tensor<1x2x4xf32>) {
  %0 = nn.concat %a, %b, %c axis 1 : (tensor<1x2x4xf32>, tensor<1x3x4xf32>, tensor<1x1x4xf32>) -> tensor<1x6x4xf32>
  %1 = nn.concat %a axis -1 : (tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
  func.return %0, %1 : tensor<1x6x4xf32>, tensor<1x2x4xf32>
}

// CHECK-LABEL: func.func @split(
// CHECK-NEXT:    %0, %1 = nn.split %x axis -1 sizes [3, 7] : (tensor<2x10xf32>) -> (tensor<2x3xf32>, tensor<2x7xf32>)
// CHECK-NEXT:    func.return %0, %1 : tensor<2x3xf32>, tensor<2x7xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "split"
// GENERIC:       %0, %1 = "nn.split"(%x) <{axis = -1 : i64, sizes = array<i64: 3, 7>}> : (tensor<2x10xf32>) -> (tensor<2x3xf32>, tensor<2x7xf32>)
func.func @split(%x: tensor<2x10xf32>) -> (tensor<2x3xf32>, tensor<2x7xf32>) {
  %0, %1 = nn.split %x axis -1 sizes [3, 7] : (tensor<2x10xf32>) -> (tensor<2x3xf32>, tensor<2x7xf32>)
  func.return %0, %1 : tensor<2x3xf32>, tensor<2x7xf32>
}

// CHECK-LABEL: func.func @reshape(
// CHECK-NEXT:    %y = nn.reshape %x : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
// CHECK-NEXT:    func.return %y : tensor<6x4xf32>
// CHECK-NEXT:  }
func.func @reshape(%x: tensor<2x3x4xf32>) -> tensor<6x4xf32> {
  %y = nn.reshape %x : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  func.return %y : tensor<6x4xf32>
}

// CHECK-LABEL: func.func @flatten(
// CHECK-NEXT:    %0 = nn.flatten %x axis 1 : (tensor<2x3x4x5xf32>) -> tensor<2x60xf32>
// CHECK-NEXT:    %1 = nn.flatten %x axis 0 : (tensor<2x3x4x5xf32>) -> tensor<1x120xf32>
// CHECK-NEXT:    %2 = nn.flatten %x axis 4 : (tensor<2x3x4x5xf32>) -> tensor<120x1xf32>
// CHECK-NEXT:    %3 = nn.flatten %x axis -1 : (tensor<2x3x4x5xf32>) -> tensor<24x5xf32>
// CHECK-NEXT:    func.return %0, %1, %2, %3 : tensor<2x60xf32>, tensor<1x120xf32>, tensor<120x1xf32>, tensor<24x5xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "flatten"
// GENERIC:       %0 = "nn.flatten"(%x) <{axis = 1 : i64}> : (tensor<2x3x4x5xf32>) -> tensor<2x60xf32>
func.func @flatten(%x: tensor<2x3x4x5xf32>) -> (tensor<2x60xf32>, tensor<1x120xf32>, tensor<120x1xf32>, tensor<24x5xf32>) {
  %0 = nn.flatten %x axis 1 : (tensor<2x3x4x5xf32>) -> tensor<2x60xf32>
  %1 = nn.flatten %x axis 0 : (tensor<2x3x4x5xf32>) -> tensor<1x120xf32>
  %2 = nn.flatten %x axis 4 : (tensor<2x3x4x5xf32>) -> tensor<120x1xf32>
  %3 = nn.flatten %x axis -1 : (tensor<2x3x4x5xf32>) -> tensor<24x5xf32>
  func.return %0, %1, %2, %3 : tensor<2x60xf32>, tensor<1x120xf32>, tensor<120x1xf32>, tensor<24x5xf32>
}

// CHECK-LABEL: func.func @transpose(
// CHECK-NEXT:    %y = nn.transpose %x perm [2, 0, 1] : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
// CHECK-NEXT:    func.return %y : tensor<4x2x3xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "transpose"
// GENERIC:       %y = "nn.transpose"(%x) <{perm = array<i64: 2, 0, 1>}> : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
func.func @transpose(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %y = nn.transpose %x perm [2, 0, 1] : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  func.return %y : tensor<4x2x3xf32>
}

// CHECK-LABEL: func.func @pad(
// CHECK-NEXT:    %0 = nn.pad %x pads [0, 0, 1, 2, 0, 0, 1, 1] mode constant value 0.000000e+00 : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x7xf32>
// CHECK-NEXT:    %1 = nn.pad %x pads [0, 0, 1, 2, 0, 0, 1, 1] mode reflect value 0.000000e+00 : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x7xf32>
// CHECK-NEXT:    %2 = nn.pad %x pads [0, 0, 1, 2, 0, 0, 1, 1] mode edge value -1.500000e+00 : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x7xf32>
// CHECK-NEXT:    func.return %0, %1, %2 : tensor<1x3x6x7xf32>, tensor<1x3x6x7xf32>, tensor<1x3x6x7xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "pad"
// GENERIC:       %0 = "nn.pad"(%x) <{pads = array<i64: 0, 0, 1, 2, 0, 0, 1, 1>, mode = #nn<pad_mode constant>, value = 0.000000e+00 : f32}> : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x7xf32>
// GENERIC:       %1 = "nn.pad"(%x) <{pads = array<i64: 0, 0, 1, 2, 0, 0, 1, 1>, mode = #nn<pad_mode reflect>, value = 0.000000e+00 : f32}> : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x7xf32>
// GENERIC:       %2 = "nn.pad"(%x) <{pads = array<i64: 0, 0, 1, 2, 0, 0, 1, 1>, mode = #nn<pad_mode edge>, value = -1.500000e+00 : f32}> : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x7xf32>
func.func @pad(%x: tensor<1x3x4x4xf32>) -> (tensor<1x3x6x7xf32>, tensor<1x3x6x7xf32>, tensor<1x3x6x7xf32>) {
  %0 = nn.pad %x pads [0, 0, 1, 2, 0, 0, 1, 1] mode constant value 0.0 : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x7xf32>
  %1 = nn.pad %x pads [0, 0, 1, 2, 0, 0, 1, 1] mode reflect value 0.0 : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x7xf32>
  %2 = nn.pad %x pads [0, 0, 1, 2, 0, 0, 1, 1] mode edge value -1.5 : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x7xf32>
  func.return %0, %1, %2 : tensor<1x3x6x7xf32>, tensor<1x3x6x7xf32>, tensor<1x3x6x7xf32>
}

// CHECK-LABEL: func.func @gather(
// CHECK-NEXT:    %0 = nn.gather %emb, %ids axis 0 : (tensor<1000x64xf32>, tensor<2x7xi64>) -> tensor<2x7x64xf32>
// CHECK-NEXT:    %1 = nn.gather %emb, %i axis -1 : (tensor<1000x64xf32>, tensor<i64>) -> tensor<1000xf32>
// CHECK-NEXT:    func.return %0, %1 : tensor<2x7x64xf32>, tensor<1000xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "gather"
// GENERIC:       %0 = "nn.gather"(%emb, %ids) <{axis = 0 : i64}> : (tensor<1000x64xf32>, tensor<2x7xi64>) -> tensor<2x7x64xf32>
func.func @gather(%emb: tensor<1000x64xf32>, %ids: tensor<2x7xi64>, %i: tensor<i64>) -> (tensor<2x7x64xf32>, tensor<1000xf32>) {
  %0 = nn.gather %emb, %ids axis 0 : (tensor<1000x64xf32>, tensor<2x7xi64>) -> tensor<2x7x64xf32>
  %1 = nn.gather %emb, %i axis -1 : (tensor<1000x64xf32>, tensor<i64>) -> tensor<1000xf32>
  func.return %0, %1 : tensor<2x7x64xf32>, tensor<1000xf32>
}

// CHECK-LABEL: func.func @lstm(
// CHECK-NEXT:    %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32>) hidden_size 16 direction forward -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
// CHECK-NEXT:    func.return %y, %h, %c : tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "lstm"
// GENERIC:       %y, %h, %c = "nn.lstm"(%x, %w, %r) <{hidden_size = 16 : i64, direction = #nn<rnn_direction forward>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>}> : (tensor<5x2x8xf32>, tensor<1x64x8xf32>, tensor<1x64x16xf32>) -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
func.func @lstm(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x16xf32>) -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32>) hidden_size 16 direction forward -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return %y, %h, %c : tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>
}

// CHECK-LABEL: func.func @lstm_bidirectional(
// CHECK-NEXT:    %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<2x64x8xf32>, %r : tensor<2x64x16xf32> bias %b : tensor<2x128xf32> initial_h %h0 : tensor<2x2x16xf32> initial_c %c0 : tensor<2x2x16xf32>) hidden_size 16 direction bidirectional -> (tensor<5x2x2x16xf32>, tensor<2x2x16xf32>, tensor<2x2x16xf32>)
// CHECK-NEXT:    func.return %y, %h, %c : tensor<5x2x2x16xf32>, tensor<2x2x16xf32>, tensor<2x2x16xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "lstm_bidirectional"
// GENERIC:       %y, %h, %c = "nn.lstm"(%x, %w, %r, %b, %h0, %c0) <{hidden_size = 16 : i64, direction = #nn<rnn_direction bidirectional>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<5x2x8xf32>, tensor<2x64x8xf32>, tensor<2x64x16xf32>, tensor<2x128xf32>, tensor<2x2x16xf32>, tensor<2x2x16xf32>) -> (tensor<5x2x2x16xf32>, tensor<2x2x16xf32>, tensor<2x2x16xf32>)
func.func @lstm_bidirectional(%x: tensor<5x2x8xf32>, %w: tensor<2x64x8xf32>, %r: tensor<2x64x16xf32>, %b: tensor<2x128xf32>, %h0: tensor<2x2x16xf32>, %c0: tensor<2x2x16xf32>) -> (tensor<5x2x2x16xf32>, tensor<2x2x16xf32>, tensor<2x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<2x64x8xf32>, %r : tensor<2x64x16xf32> bias %b : tensor<2x128xf32> initial_h %h0 : tensor<2x2x16xf32> initial_c %c0 : tensor<2x2x16xf32>) hidden_size 16 direction bidirectional -> (tensor<5x2x2x16xf32>, tensor<2x2x16xf32>, tensor<2x2x16xf32>)
  func.return %y, %h, %c : tensor<5x2x2x16xf32>, tensor<2x2x16xf32>, tensor<2x2x16xf32>
}

// CHECK-LABEL: func.func @lstm_reverse(
// CHECK-NEXT:    %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> bias %b : tensor<1x128xf32> initial_h %h0 : tensor<1x2x16xf32>) hidden_size 16 direction reverse -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
// CHECK-NEXT:    func.return %y : tensor<5x1x2x16xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "lstm_reverse"
// GENERIC:       %y, %h, %c = "nn.lstm"(%x, %w, %r, %b, %h0) <{hidden_size = 16 : i64, direction = #nn<rnn_direction reverse>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0>}> : (tensor<5x2x8xf32>, tensor<1x64x8xf32>, tensor<1x64x16xf32>, tensor<1x128xf32>, tensor<1x2x16xf32>) -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
func.func @lstm_reverse(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x16xf32>, %b: tensor<1x128xf32>, %h0: tensor<1x2x16xf32>) -> tensor<5x1x2x16xf32> {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> bias %b : tensor<1x128xf32> initial_h %h0 : tensor<1x2x16xf32>) hidden_size 16 direction reverse -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return %y : tensor<5x1x2x16xf32>
}

// CHECK-LABEL: func.func @gru(
// CHECK-NEXT:    %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<1x48x8xf32>, %r : tensor<1x48x16xf32> bias %b : tensor<1x96xf32> initial_h %h0 : tensor<1x2x16xf32>) hidden_size 16 direction forward linear_before_reset -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
// CHECK-NEXT:    func.return %y, %h : tensor<5x1x2x16xf32>, tensor<1x2x16xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "gru"
// GENERIC:       %y, %h = "nn.gru"(%x, %w, %r, %b, %h0) <{hidden_size = 16 : i64, direction = #nn<rnn_direction forward>, linear_before_reset, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}> : (tensor<5x2x8xf32>, tensor<1x48x8xf32>, tensor<1x48x16xf32>, tensor<1x96xf32>, tensor<1x2x16xf32>) -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
func.func @gru(%x: tensor<5x2x8xf32>, %w: tensor<1x48x8xf32>, %r: tensor<1x48x16xf32>, %b: tensor<1x96xf32>, %h0: tensor<1x2x16xf32>) -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>) {
  %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<1x48x8xf32>, %r : tensor<1x48x16xf32> bias %b : tensor<1x96xf32> initial_h %h0 : tensor<1x2x16xf32>) hidden_size 16 direction forward linear_before_reset -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
  func.return %y, %h : tensor<5x1x2x16xf32>, tensor<1x2x16xf32>
}

// CHECK-LABEL: func.func @lstm_initial_c_only(
// CHECK-NEXT:    %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> initial_c %c0 : tensor<1x2x16xf32>) hidden_size 16 direction reverse -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
// CHECK-NEXT:    func.return %c : tensor<1x2x16xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "lstm_initial_c_only"
// GENERIC:       %y, %h, %c = "nn.lstm"(%x, %w, %r, %c0) <{hidden_size = 16 : i64, direction = #nn<rnn_direction reverse>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 1>}> : (tensor<5x2x8xf32>, tensor<1x64x8xf32>, tensor<1x64x16xf32>, tensor<1x2x16xf32>) -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
func.func @lstm_initial_c_only(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x16xf32>, %c0: tensor<1x2x16xf32>) -> tensor<1x2x16xf32> {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> initial_c %c0 : tensor<1x2x16xf32>) hidden_size 16 direction reverse -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return %c : tensor<1x2x16xf32>
}

// CHECK-LABEL: func.func @gru_initial_h_only(
// CHECK-NEXT:    %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<1x48x8xf32>, %r : tensor<1x48x16xf32> initial_h %h0 : tensor<1x2x16xf32>) hidden_size 16 direction reverse -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
// CHECK-NEXT:    func.return %h : tensor<1x2x16xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "gru_initial_h_only"
// GENERIC:       %y, %h = "nn.gru"(%x, %w, %r, %h0) <{hidden_size = 16 : i64, direction = #nn<rnn_direction reverse>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1>}> : (tensor<5x2x8xf32>, tensor<1x48x8xf32>, tensor<1x48x16xf32>, tensor<1x2x16xf32>) -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
func.func @gru_initial_h_only(%x: tensor<5x2x8xf32>, %w: tensor<1x48x8xf32>, %r: tensor<1x48x16xf32>, %h0: tensor<1x2x16xf32>) -> tensor<1x2x16xf32> {
  %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<1x48x8xf32>, %r : tensor<1x48x16xf32> initial_h %h0 : tensor<1x2x16xf32>) hidden_size 16 direction reverse -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
  func.return %h : tensor<1x2x16xf32>
}

// CHECK-LABEL: func.func @gru_plain(
// CHECK-NEXT:    %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<2x48x8xf32>, %r : tensor<2x48x16xf32>) hidden_size 16 direction bidirectional -> (tensor<5x2x2x16xf32>, tensor<2x2x16xf32>)
// CHECK-NEXT:    func.return %y, %h : tensor<5x2x2x16xf32>, tensor<2x2x16xf32>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "gru_plain"
// GENERIC:       %y, %h = "nn.gru"(%x, %w, %r) <{hidden_size = 16 : i64, direction = #nn<rnn_direction bidirectional>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}> : (tensor<5x2x8xf32>, tensor<2x48x8xf32>, tensor<2x48x16xf32>) -> (tensor<5x2x2x16xf32>, tensor<2x2x16xf32>)
func.func @gru_plain(%x: tensor<5x2x8xf32>, %w: tensor<2x48x8xf32>, %r: tensor<2x48x16xf32>) -> (tensor<5x2x2x16xf32>, tensor<2x2x16xf32>) {
  %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<2x48x8xf32>, %r : tensor<2x48x16xf32>) hidden_size 16 direction bidirectional -> (tensor<5x2x2x16xf32>, tensor<2x2x16xf32>)
  func.return %y, %h : tensor<5x2x2x16xf32>, tensor<2x2x16xf32>
}

// CHECK-LABEL: func.func @data_movement_i64(
// CHECK-NEXT:    %0 = nn.transpose %x perm [1, 0] : (tensor<2x3xi64>) -> tensor<3x2xi64>
// CHECK-NEXT:    %1 = nn.reshape %0 : (tensor<3x2xi64>) -> tensor<6xi64>
// CHECK-NEXT:    %2 = nn.concat %1, %i axis 0 : (tensor<6xi64>, tensor<2xi64>) -> tensor<8xi64>
// CHECK-NEXT:    %3, %4 = nn.split %2 axis 0 sizes [5, 3] : (tensor<8xi64>) -> (tensor<5xi64>, tensor<3xi64>)
// CHECK-NEXT:    %5 = nn.gather %x, %i axis 1 : (tensor<2x3xi64>, tensor<2xi64>) -> tensor<2x2xi64>
// CHECK-NEXT:    %6 = nn.flatten %5 axis 1 : (tensor<2x2xi64>) -> tensor<2x2xi64>
// CHECK-NEXT:    func.return %3, %4, %6 : tensor<5xi64>, tensor<3xi64>, tensor<2x2xi64>
// CHECK-NEXT:  }
func.func @data_movement_i64(%x: tensor<2x3xi64>, %i: tensor<2xi64>) -> (tensor<5xi64>, tensor<3xi64>, tensor<2x2xi64>) {
  %0 = nn.transpose %x perm [1, 0] : (tensor<2x3xi64>) -> tensor<3x2xi64>
  %1 = nn.reshape %0 : (tensor<3x2xi64>) -> tensor<6xi64>
  %2 = nn.concat %1, %i axis 0 : (tensor<6xi64>, tensor<2xi64>) -> tensor<8xi64>
  %3, %4 = nn.split %2 axis 0 sizes [5, 3] : (tensor<8xi64>) -> (tensor<5xi64>, tensor<3xi64>)
  %5 = nn.gather %x, %i axis 1 : (tensor<2x3xi64>, tensor<2xi64>) -> tensor<2x2xi64>
  %6 = nn.flatten %5 axis 1 : (tensor<2x2xi64>) -> tensor<2x2xi64>
  func.return %3, %4, %6 : tensor<5xi64>, tensor<3xi64>, tensor<2x2xi64>
}

// CHECK-LABEL: func.func @f16(
// CHECK-NEXT:    %c = nn.conv2d %x, %w bias %b strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf16>, tensor<4x3x3x3xf16>, tensor<4xf16>) -> tensor<1x4x6x6xf16>
// CHECK-NEXT:    %r = nn.relu %c : tensor<1x4x6x6xf16>
// CHECK-NEXT:    %g = nn.global_avg_pool %r : (tensor<1x4x6x6xf16>) -> tensor<1x4x1x1xf16>
// CHECK-NEXT:    %f = nn.flatten %g axis 1 : (tensor<1x4x1x1xf16>) -> tensor<1x4xf16>
// CHECK-NEXT:    %s = nn.softmax %f axis -1 : tensor<1x4xf16>
// CHECK-NEXT:    func.return %s : tensor<1x4xf16>
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{sym_name = "f16"
// GENERIC:       %c = "nn.conv2d"(%x, %w, %b) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64}> : (tensor<1x3x8x8xf16>, tensor<4x3x3x3xf16>, tensor<4xf16>) -> tensor<1x4x6x6xf16>
func.func @f16(%x: tensor<1x3x8x8xf16>, %w: tensor<4x3x3x3xf16>, %b: tensor<4xf16>) -> tensor<1x4xf16> {
  %c = nn.conv2d %x, %w bias %b strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf16>, tensor<4x3x3x3xf16>, tensor<4xf16>) -> tensor<1x4x6x6xf16>
  %r = nn.relu %c : tensor<1x4x6x6xf16>
  %g = nn.global_avg_pool %r : (tensor<1x4x6x6xf16>) -> tensor<1x4x1x1xf16>
  %f = nn.flatten %g axis 1 : (tensor<1x4x1x1xf16>) -> tensor<1x4xf16>
  %s = nn.softmax %f axis -1 : tensor<1x4xf16>
  func.return %s : tensor<1x4xf16>
}

// CHECK-NEXT: }
