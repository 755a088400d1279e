// raise-decomposed-ops: layer norm, GELU and LRN written as chains of primitive ops (as
// exporters write them and the ONNX importer maps them, one nn op per node) become one
// nn.layer_norm / nn.gelu / nn.lrn named after the last op of the chain; the chain and
// the constants only it used are erased. A chain whose inside is used elsewhere, whose
// constants differ, or which has an op marked nn.host, stays.
// RUN: rapid-opt %s --split-input-file -p raise-decomposed-ops | filecheck %s

// PyTorch's LayerNorm below opset 17 (Pow(d, 2) is imported as nn.mul d, d), gamma and
// beta as weights, operands of the mul / add in either order: one nn.layer_norm named
// after the final add; eps is gone with the chain.
// CHECK-LABEL: func.func @ln_affine
// CHECK-NEXT: %gamma = nn.weight "ln.gamma" : tensor<8xf32>
// CHECK-NEXT: %beta = nn.weight "ln.beta" : tensor<8xf32>
// CHECK-NEXT: %ln = nn.layer_norm %x, %gamma bias %beta axis -1 epsilon 1.000000e-05 {nn.name = "ln"} : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: func.return %ln : tensor<2x8xf32>
func.func @ln_affine(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %mean = nn.reduce mean %x axes [-1] keepdims {nn.name = "mean"} : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %d = nn.sub %x, %mean {nn.name = "d"} : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %sq = nn.mul %d, %d {nn.name = "sq"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %var = nn.reduce mean %sq axes [-1] keepdims {nn.name = "var"} : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %eps = nn.constant dense<1.000000e-05> : tensor<f32>
  %var_eps = nn.add %var, %eps {nn.name = "var_eps"} : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %std = nn.sqrt %var_eps {nn.name = "std"} : tensor<2x1xf32>
  %normed = nn.div %d, %std {nn.name = "normed"} : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %gamma = nn.weight "ln.gamma" : tensor<8xf32>
  %scaled = nn.mul %gamma, %normed {nn.name = "scaled"} : (tensor<8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %beta = nn.weight "ln.beta" : tensor<8xf32>
  %ln = nn.add %beta, %scaled {nn.name = "ln"} : (tensor<8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %ln : tensor<2x8xf32>
}

// -----

// The last two axes (written [1, 2] and [-1, -2]), eps first in the add, a 1-element
// eps of rank 1, no gamma or beta: scale is a constant of ones.
// CHECK-LABEL: func.func @ln_plain_two_axes
// CHECK-NEXT: %ln2_scale = nn.constant dense<1.000000e+00> : tensor<4x8xf32>
// CHECK-NEXT: %y = nn.layer_norm %x, %ln2_scale axis -2 epsilon 1.000000e-03 {nn.name = "ln2"} : (tensor<2x4x8xf32>, tensor<4x8xf32>) -> tensor<2x4x8xf32>
// CHECK-NEXT: func.return %y
func.func @ln_plain_two_axes(%x: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %mean = nn.reduce mean %x axes [1, 2] keepdims : (tensor<2x4x8xf32>) -> tensor<2x1x1xf32>
  %d = nn.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  %sq = nn.mul %d, %d : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  %var = nn.reduce mean %sq axes [-1, -2] keepdims : (tensor<2x4x8xf32>) -> tensor<2x1x1xf32>
  %eps = nn.constant dense<1.000000e-03> : tensor<1xf32>
  %var_eps = nn.add %eps, %var : (tensor<1xf32>, tensor<2x1x1xf32>) -> tensor<2x1x1xf32>
  %std = nn.sqrt %var_eps : tensor<2x1x1xf32>
  %y = nn.div %d, %std {nn.name = "ln2"} : (tensor<2x4x8xf32>, tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  func.return %y : tensor<2x4x8xf32>
}

// -----

// gamma of shape 1x1x8 is viewed as 8; the shift by a function argument is not a beta
// and stays after the new op, which takes the name of the mul it replaces.
// CHECK-LABEL: func.func @ln_gamma_view_beta_not_a_parameter
// CHECK-NEXT: %gamma = nn.weight "gamma" : tensor<1x1x8xf32>
// CHECK-NEXT: %scaled_scale_view = nn.reshape %gamma {nn.name = "scaled.scale_view"} : (tensor<1x1x8xf32>) -> tensor<8xf32>
// CHECK-NEXT: %scaled = nn.layer_norm %x, %scaled_scale_view axis -1 epsilon 1.000000e-05 {nn.name = "scaled"}
// CHECK-NEXT: %y = nn.add %scaled, %b {nn.name = "shift"}
// CHECK-NEXT: func.return %y
func.func @ln_gamma_view_beta_not_a_parameter(%x: tensor<2x4x8xf32>, %b: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %mean = nn.reduce mean %x axes [2] keepdims : (tensor<2x4x8xf32>) -> tensor<2x4x1xf32>
  %d = nn.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %sq = nn.mul %d, %d : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  %var = nn.reduce mean %sq axes [2] keepdims : (tensor<2x4x8xf32>) -> tensor<2x4x1xf32>
  %eps = nn.constant dense<1.000000e-05> : tensor<f32>
  %var_eps = nn.add %var, %eps : (tensor<2x4x1xf32>, tensor<f32>) -> tensor<2x4x1xf32>
  %std = nn.sqrt %var_eps : tensor<2x4x1xf32>
  %normed = nn.div %d, %std : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %gamma = nn.weight "gamma" : tensor<1x1x8xf32>
  %scaled = nn.mul %normed, %gamma {nn.name = "scaled"} : (tensor<2x4x8xf32>, tensor<1x1x8xf32>) -> tensor<2x4x8xf32>
  %y = nn.add %scaled, %b {nn.name = "shift"} : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  func.return %y : tensor<2x4x8xf32>
}

// -----

// Statistics over a middle axis: not a layer norm.
// CHECK-LABEL: func.func @ln_not_last_axis
// CHECK-NOT: nn.layer_norm
// CHECK: nn.reduce mean %x axes [1] keepdims
// CHECK: func.return
func.func @ln_not_last_axis(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %mean = nn.reduce mean %x axes [1] keepdims : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  %d = nn.sub %x, %mean : (tensor<2x3x4xf32>, tensor<2x1x4xf32>) -> tensor<2x3x4xf32>
  %sq = nn.mul %d, %d : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %var = nn.reduce mean %sq axes [1] keepdims : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  %eps = nn.constant dense<1.000000e-05> : tensor<f32>
  %var_eps = nn.add %var, %eps : (tensor<2x1x4xf32>, tensor<f32>) -> tensor<2x1x4xf32>
  %std = nn.sqrt %var_eps : tensor<2x1x4xf32>
  %y = nn.div %d, %std : (tensor<2x3x4xf32>, tensor<2x1x4xf32>) -> tensor<2x3x4xf32>
  func.return %y : tensor<2x3x4xf32>
}

// -----

// The centred input is also a result: nothing changes.
// CHECK-LABEL: func.func @ln_extra_user
// CHECK-NOT: nn.layer_norm
// CHECK: %y = nn.div %d, %std
// CHECK-NEXT: func.return %y, %d
func.func @ln_extra_user(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %mean = nn.reduce mean %x axes [-1] keepdims : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %d = nn.sub %x, %mean : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %sq = nn.mul %d, %d : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %var = nn.reduce mean %sq axes [-1] keepdims : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %eps = nn.constant dense<1.000000e-05> : tensor<f32>
  %var_eps = nn.add %var, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %std = nn.sqrt %var_eps : tensor<2x1xf32>
  %y = nn.div %d, %std : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  func.return %y, %d : tensor<2x8xf32>, tensor<2x8xf32>
}

// -----

// eps must be a constant.
// CHECK-LABEL: func.func @ln_eps_not_constant
// CHECK-NOT: nn.layer_norm
// CHECK: %var_eps = nn.add %var, %eps
// CHECK: func.return
func.func @ln_eps_not_constant(%x: tensor<2x8xf32>, %eps: tensor<f32>) -> tensor<2x8xf32> {
  %mean = nn.reduce mean %x axes [-1] keepdims : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %d = nn.sub %x, %mean : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %sq = nn.mul %d, %d : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %var = nn.reduce mean %sq axes [-1] keepdims : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %var_eps = nn.add %var, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %std = nn.sqrt %var_eps : tensor<2x1xf32>
  %y = nn.div %d, %std : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// -----

// PyTorch's Gelu below opset 20; the constants go with the chain.
// CHECK-LABEL: func.func @gelu_torch
// CHECK-NEXT: %gelu = nn.gelu %x approximate none {nn.name = "gelu"} : tensor<2x8xf32>
// CHECK-NEXT: func.return %gelu : tensor<2x8xf32>
func.func @gelu_torch(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = nn.constant dense<1.41421354> : tensor<f32>
  %z = nn.div %x, %sqrt2 {nn.name = "z"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %erf = nn.erf %z {nn.name = "erf"} : tensor<2x8xf32>
  %one = nn.constant dense<1.000000e+00> : tensor<f32>
  %one_erf = nn.add %erf, %one {nn.name = "one_erf"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %x_one_erf = nn.mul %x, %one_erf {nn.name = "x_one_erf"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %half = nn.constant dense<5.000000e-01> : tensor<f32>
  %gelu = nn.mul %x_one_erf, %half {nn.name = "gelu"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %gelu : tensor<2x8xf32>
}

// -----

// 0.5 * x first, x * (1 / sqrt 2) instead of the division, operands swapped.
// CHECK-LABEL: func.func @gelu_half_first
// CHECK-NEXT: %gelu = nn.gelu %x approximate none {nn.name = "gelu"} : tensor<2x8xf32>
// CHECK-NEXT: func.return %gelu
func.func @gelu_half_first(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %half = nn.constant dense<5.000000e-01> : tensor<f32>
  %half_x = nn.mul %half, %x : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %rsqrt2 = nn.constant dense<0.707106769> : tensor<1xf32>
  %z = nn.mul %rsqrt2, %x : (tensor<1xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %erf = nn.erf %z : tensor<2x8xf32>
  %one = nn.constant dense<1.000000e+00> : tensor<f32>
  %one_erf = nn.add %one, %erf : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %gelu = nn.mul %half_x, %one_erf {nn.name = "gelu"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %gelu : tensor<2x8xf32>
}

// -----

// x * (0.5 * (1 + erf)): another association of the product.
// CHECK-LABEL: func.func @gelu_half_of_the_sum
// CHECK-NEXT: %gelu = nn.gelu %x approximate none {nn.name = "gelu"} : tensor<2x8xf32>
// CHECK-NEXT: func.return %gelu
func.func @gelu_half_of_the_sum(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = nn.constant dense<1.41421354> : tensor<f32>
  %z = nn.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %erf = nn.erf %z : tensor<2x8xf32>
  %one = nn.constant dense<1.000000e+00> : tensor<f32>
  %one_erf = nn.add %erf, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %half = nn.constant dense<5.000000e-01> : tensor<f32>
  %cdf = nn.mul %one_erf, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %gelu = nn.mul %x, %cdf {nn.name = "gelu"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %gelu : tensor<2x8xf32>
}

// -----

// PyTorch's approximate='tanh' (x^3 as x * (x * x)).
// CHECK-LABEL: func.func @gelu_tanh
// CHECK-NEXT: %gelu = nn.gelu %x approximate tanh {nn.name = "gelu"} : tensor<2x8xf32>
// CHECK-NEXT: func.return %gelu
func.func @gelu_tanh(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %x2 = nn.mul %x, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %x3 = nn.mul %x, %x2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %c = nn.constant dense<4.471500e-02> : tensor<f32>
  %cx3 = nn.mul %c, %x3 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %inner = nn.add %x, %cx3 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %k = nn.constant dense<0.797884583> : tensor<f32>
  %t = nn.mul %k, %inner : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %tanh = nn.tanh %t : tensor<2x8xf32>
  %one = nn.constant dense<1.000000e+00> : tensor<f32>
  %one_tanh = nn.add %one, %tanh : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %x_one_tanh = nn.mul %x, %one_tanh : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %half = nn.constant dense<5.000000e-01> : tensor<f32>
  %gelu = nn.mul %half, %x_one_tanh {nn.name = "gelu"} : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %gelu : tensor<2x8xf32>
}

// -----

// 1.4142 is sqrt 2 only to 1.5e-5 relative: no match.
// CHECK-LABEL: func.func @gelu_wrong_constant
// CHECK-NOT: nn.gelu
// CHECK: nn.erf
// CHECK: func.return
func.func @gelu_wrong_constant(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = nn.constant dense<1.414200e+00> : tensor<f32>
  %z = nn.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %erf = nn.erf %z : tensor<2x8xf32>
  %one = nn.constant dense<1.000000e+00> : tensor<f32>
  %one_erf = nn.add %erf, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %x_one_erf = nn.mul %x, %one_erf : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %half = nn.constant dense<5.000000e-01> : tensor<f32>
  %gelu = nn.mul %x_one_erf, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %gelu : tensor<2x8xf32>
}

// -----

// erf(x / sqrt 2) is also a result: no match.
// CHECK-LABEL: func.func @gelu_extra_user
// CHECK-NOT: nn.gelu
// CHECK: %erf = nn.erf %z
// CHECK: func.return %gelu, %erf
func.func @gelu_extra_user(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %sqrt2 = nn.constant dense<1.41421354> : tensor<f32>
  %z = nn.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %erf = nn.erf %z : tensor<2x8xf32>
  %one = nn.constant dense<1.000000e+00> : tensor<f32>
  %one_erf = nn.add %erf, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %x_one_erf = nn.mul %x, %one_erf : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %half = nn.constant dense<5.000000e-01> : tensor<f32>
  %gelu = nn.mul %x_one_erf, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %gelu, %erf : tensor<2x8xf32>, tensor<2x8xf32>
}

// -----

// An op of the chain marked nn.host: left as it is.
// CHECK-LABEL: func.func @gelu_on_host
// CHECK-NOT: nn.gelu
// CHECK: nn.erf %z {nn.host}
// CHECK: func.return
func.func @gelu_on_host(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = nn.constant dense<1.41421354> : tensor<f32>
  %z = nn.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %erf = nn.erf %z {nn.host} : tensor<2x8xf32>
  %one = nn.constant dense<1.000000e+00> : tensor<f32>
  %one_erf = nn.add %erf, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %x_one_erf = nn.mul %x, %one_erf : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %half = nn.constant dense<5.000000e-01> : tensor<f32>
  %gelu = nn.mul %x_one_erf, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %gelu : tensor<2x8xf32>
}

// -----

// Two GELUs sharing their constants: both are raised, the constants erased with the last.
// CHECK-LABEL: func.func @two_gelus_share_constants
// CHECK-NEXT: %g1 = nn.gelu %x approximate none {nn.name = "g1"}
// CHECK-NEXT: %g2 = nn.gelu %g1 approximate none {nn.name = "g2"}
// CHECK-NEXT: func.return %g2
func.func @two_gelus_share_constants(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = nn.constant dense<1.41421354> : tensor<f32>
  %one = nn.constant dense<1.000000e+00> : tensor<f32>
  %half = nn.constant dense<5.000000e-01> : tensor<f32>
  %z1 = nn.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e1 = nn.erf %z1 : tensor<2x8xf32>
  %a1 = nn.add %e1, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m1 = nn.mul %x, %a1 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %g1 = nn.mul %m1, %half {nn.name = "g1"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %z2 = nn.div %g1, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e2 = nn.erf %z2 : tensor<2x8xf32>
  %a2 = nn.add %e2, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m2 = nn.mul %g1, %a2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %g2 = nn.mul %m2, %half {nn.name = "g2"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  func.return %g2 : tensor<2x8xf32>
}

// -----

// The canonical LRN: squares viewed as [N, 1, C, H*W], a Pad of 2 channels on each side,
// AveragePool kernel [5, 1], the view back, * alpha, + bias, Pow 0.5 (nn.sqrt), x / it.
// CHECK-LABEL: func.func @lrn_pad
// CHECK-NEXT: %lrn = nn.lrn %x size 5 alpha 1.000000e-04 beta 5.000000e-01 bias 2.000000e+00 {nn.name = "lrn"} : (tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
// CHECK-NEXT: func.return %lrn
func.func @lrn_pad(%x: tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32> {
  %sq = nn.mul %x, %x {nn.name = "sq"} : (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
  %sq_view = nn.reshape %sq {nn.name = "sq_view"} : (tensor<1x6x2x2xf32>) -> tensor<1x1x6x4xf32>
  %sq_pad = nn.pad %sq_view pads [0, 0, 2, 0, 0, 0, 2, 0] mode constant value 0.000000e+00 {nn.name = "sq_pad"} : (tensor<1x1x6x4xf32>) -> tensor<1x1x10x4xf32>
  %avg = nn.avg_pool2d %sq_pad kernel [5, 1] strides [1, 1] pads [0, 0, 0, 0] {nn.name = "avg"} : (tensor<1x1x10x4xf32>) -> tensor<1x1x6x4xf32>
  %avg_back = nn.reshape %avg {nn.name = "avg_back"} : (tensor<1x1x6x4xf32>) -> tensor<1x6x2x2xf32>
  %alpha = nn.constant dense<1.000000e-04> : tensor<f32>
  %scaled = nn.mul %avg_back, %alpha {nn.name = "scaled"} : (tensor<1x6x2x2xf32>, tensor<f32>) -> tensor<1x6x2x2xf32>
  %bias = nn.constant dense<2.000000e+00> : tensor<f32>
  %den = nn.add %bias, %scaled {nn.name = "den"} : (tensor<f32>, tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
  %den_pow = nn.sqrt %den {nn.name = "den_pow"} : tensor<1x6x2x2xf32>
  %lrn = nn.div %x, %den_pow {nn.name = "lrn"} : (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
  func.return %lrn : tensor<1x6x2x2xf32>
}

// -----

// AlexNet's LRN (size 5, alpha 1e-4, beta 0.75, bias 1) with Pow(., 0.75) imported as
// nn.pow: the pool's own pads (count_include_pad), beta the pow's exponent.
// CHECK-LABEL: func.func @lrn_alexnet_pow
// CHECK-NEXT: %lrn = nn.lrn %x size 5 alpha 1.000000e-04 beta 7.500000e-01 bias 1.000000e+00 {nn.name = "norm1"} : (tensor<1x8x3x3xf32>) -> tensor<1x8x3x3xf32>
// CHECK-NEXT: func.return %lrn
func.func @lrn_alexnet_pow(%x: tensor<1x8x3x3xf32>) -> tensor<1x8x3x3xf32> {
  %sq = nn.mul %x, %x : (tensor<1x8x3x3xf32>, tensor<1x8x3x3xf32>) -> tensor<1x8x3x3xf32>
  %sq_view = nn.reshape %sq : (tensor<1x8x3x3xf32>) -> tensor<1x1x8x9xf32>
  %avg = nn.avg_pool2d %sq_view kernel [5, 1] strides [1, 1] pads [2, 0, 2, 0] count_include_pad : (tensor<1x1x8x9xf32>) -> tensor<1x1x8x9xf32>
  %avg_back = nn.reshape %avg : (tensor<1x1x8x9xf32>) -> tensor<1x8x3x3xf32>
  %alpha = nn.constant dense<1.000000e-04> : tensor<f32>
  %scaled = nn.mul %avg_back, %alpha : (tensor<1x8x3x3xf32>, tensor<f32>) -> tensor<1x8x3x3xf32>
  %bias = nn.constant dense<1.000000e+00> : tensor<f32>
  %den = nn.add %scaled, %bias : (tensor<1x8x3x3xf32>, tensor<f32>) -> tensor<1x8x3x3xf32>
  %den_pow = nn.pow %den exponent 0.75 : tensor<1x8x3x3xf32>
  %lrn = nn.div %x, %den_pow {nn.name = "norm1"} : (tensor<1x8x3x3xf32>, tensor<1x8x3x3xf32>) -> tensor<1x8x3x3xf32>
  func.return %lrn : tensor<1x8x3x3xf32>
}

// -----

// beta 0.75 as sqrt, then pow 1.5 (the exponents multiply), the Pad node form.
// CHECK-LABEL: func.func @lrn_pow_of_sqrt
// CHECK-NEXT: %lrn = nn.lrn %x size 3 alpha 2.000000e-01 beta 7.500000e-01 bias 2.000000e+00 : (tensor<2x6x4xf32>) -> tensor<2x6x4xf32>
// CHECK-NEXT: func.return %lrn
func.func @lrn_pow_of_sqrt(%x: tensor<2x6x4xf32>) -> tensor<2x6x4xf32> {
  %sq = nn.mul %x, %x : (tensor<2x6x4xf32>, tensor<2x6x4xf32>) -> tensor<2x6x4xf32>
  %sq_view = nn.reshape %sq : (tensor<2x6x4xf32>) -> tensor<2x1x6x4xf32>
  %sq_pad = nn.pad %sq_view pads [0, 0, 1, 0, 0, 0, 1, 0] mode constant value 0.000000e+00 : (tensor<2x1x6x4xf32>) -> tensor<2x1x8x4xf32>
  %avg = nn.avg_pool2d %sq_pad kernel [3, 1] strides [1, 1] pads [0, 0, 0, 0] : (tensor<2x1x8x4xf32>) -> tensor<2x1x6x4xf32>
  %avg_back = nn.reshape %avg : (tensor<2x1x6x4xf32>) -> tensor<2x6x4xf32>
  %alpha = nn.constant dense<2.000000e-01> : tensor<f32>
  %scaled = nn.mul %alpha, %avg_back : (tensor<f32>, tensor<2x6x4xf32>) -> tensor<2x6x4xf32>
  %bias = nn.constant dense<2.000000e+00> : tensor<f32>
  %den = nn.add %bias, %scaled : (tensor<f32>, tensor<2x6x4xf32>) -> tensor<2x6x4xf32>
  %den_sqrt = nn.sqrt %den : tensor<2x6x4xf32>
  %den_pow = nn.pow %den_sqrt exponent 1.5 : tensor<2x6x4xf32>
  %lrn = nn.div %x, %den_pow : (tensor<2x6x4xf32>, tensor<2x6x4xf32>) -> tensor<2x6x4xf32>
  func.return %lrn : tensor<2x6x4xf32>
}

// -----

// The power is also a result: no match.
// CHECK-LABEL: func.func @lrn_pow_extra_user
// CHECK-NOT: nn.lrn
// CHECK: %den_pow = nn.pow %den exponent 7.500000e-01
// CHECK: func.return %lrn, %den_pow
func.func @lrn_pow_extra_user(%x: tensor<1x6x2x2xf32>) -> (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) {
  %sq = nn.mul %x, %x : (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
  %sq_view = nn.reshape %sq : (tensor<1x6x2x2xf32>) -> tensor<1x1x6x4xf32>
  %avg = nn.avg_pool2d %sq_view kernel [3, 1] strides [1, 1] pads [1, 0, 1, 0] count_include_pad : (tensor<1x1x6x4xf32>) -> tensor<1x1x6x4xf32>
  %avg_back = nn.reshape %avg : (tensor<1x1x6x4xf32>) -> tensor<1x6x2x2xf32>
  %bias = nn.constant dense<1.000000e+00> : tensor<f32>
  %den = nn.add %avg_back, %bias : (tensor<1x6x2x2xf32>, tensor<f32>) -> tensor<1x6x2x2xf32>
  %den_pow = nn.pow %den exponent 0.75 : tensor<1x6x2x2xf32>
  %lrn = nn.div %x, %den_pow : (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
  func.return %lrn, %den_pow : tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>
}

// -----

// Rank 3, the padding in the pool (count_include_pad), an even size with ONNX's window
// (1 channel before, 2 after), beta 1 (no power), operands swapped.
// CHECK-LABEL: func.func @lrn_pool_pads_rank3
// CHECK-NEXT: %lrn = nn.lrn %x size 4 alpha 2.500000e-01 beta 1.000000e+00 bias 1.000000e+00 {nn.name = "norm1"} : (tensor<2x8x6xf32>) -> tensor<2x8x6xf32>
// CHECK-NEXT: func.return %lrn
func.func @lrn_pool_pads_rank3(%x: tensor<2x8x6xf32>) -> tensor<2x8x6xf32> {
  %sq = nn.mul %x, %x : (tensor<2x8x6xf32>, tensor<2x8x6xf32>) -> tensor<2x8x6xf32>
  %sq_view = nn.reshape %sq : (tensor<2x8x6xf32>) -> tensor<2x1x8x6xf32>
  %avg = nn.avg_pool2d %sq_view kernel [4, 1] strides [1, 1] pads [1, 0, 2, 0] count_include_pad : (tensor<2x1x8x6xf32>) -> tensor<2x1x8x6xf32>
  %avg_back = nn.reshape %avg : (tensor<2x1x8x6xf32>) -> tensor<2x8x6xf32>
  %alpha = nn.constant dense<2.500000e-01> : tensor<f32>
  %scaled = nn.mul %alpha, %avg_back : (tensor<f32>, tensor<2x8x6xf32>) -> tensor<2x8x6xf32>
  %bias = nn.constant dense<1.000000e+00> : tensor<f32>
  %den = nn.add %scaled, %bias : (tensor<2x8x6xf32>, tensor<f32>) -> tensor<2x8x6xf32>
  %lrn = nn.div %x, %den {nn.name = "norm1"} : (tensor<2x8x6xf32>, tensor<2x8x6xf32>) -> tensor<2x8x6xf32>
  func.return %lrn : tensor<2x8x6xf32>
}

// -----

// Without count_include_pad the border windows divide by fewer than size: no match.
// CHECK-LABEL: func.func @lrn_pool_excludes_padding
// CHECK-NOT: nn.lrn
// CHECK: nn.avg_pool2d
// CHECK: func.return
func.func @lrn_pool_excludes_padding(%x: tensor<2x8x6xf32>) -> tensor<2x8x6xf32> {
  %sq = nn.mul %x, %x : (tensor<2x8x6xf32>, tensor<2x8x6xf32>) -> tensor<2x8x6xf32>
  %sq_view = nn.reshape %sq : (tensor<2x8x6xf32>) -> tensor<2x1x8x6xf32>
  %avg = nn.avg_pool2d %sq_view kernel [3, 1] strides [1, 1] pads [1, 0, 1, 0] : (tensor<2x1x8x6xf32>) -> tensor<2x1x8x6xf32>
  %avg_back = nn.reshape %avg : (tensor<2x1x8x6xf32>) -> tensor<2x8x6xf32>
  %bias = nn.constant dense<1.000000e+00> : tensor<f32>
  %den = nn.add %avg_back, %bias : (tensor<2x8x6xf32>, tensor<f32>) -> tensor<2x8x6xf32>
  %lrn = nn.div %x, %den : (tensor<2x8x6xf32>, tensor<2x8x6xf32>) -> tensor<2x8x6xf32>
  func.return %lrn : tensor<2x8x6xf32>
}

// -----

// PyTorch's window for an even size (2 channels before, 1 after) is not ONNX's: no match.
// CHECK-LABEL: func.func @lrn_pytorch_even_window
// CHECK-NOT: nn.lrn
// CHECK: nn.avg_pool2d
// CHECK: func.return
func.func @lrn_pytorch_even_window(%x: tensor<2x8x6xf32>) -> tensor<2x8x6xf32> {
  %sq = nn.mul %x, %x : (tensor<2x8x6xf32>, tensor<2x8x6xf32>) -> tensor<2x8x6xf32>
  %sq_view = nn.reshape %sq : (tensor<2x8x6xf32>) -> tensor<2x1x8x6xf32>
  %avg = nn.avg_pool2d %sq_view kernel [4, 1] strides [1, 1] pads [2, 0, 1, 0] count_include_pad : (tensor<2x1x8x6xf32>) -> tensor<2x1x8x6xf32>
  %avg_back = nn.reshape %avg : (tensor<2x1x8x6xf32>) -> tensor<2x8x6xf32>
  %bias = nn.constant dense<1.000000e+00> : tensor<f32>
  %den = nn.add %avg_back, %bias : (tensor<2x8x6xf32>, tensor<f32>) -> tensor<2x8x6xf32>
  %lrn = nn.div %x, %den : (tensor<2x8x6xf32>, tensor<2x8x6xf32>) -> tensor<2x8x6xf32>
  func.return %lrn : tensor<2x8x6xf32>
}

// -----

// The window means are also a result: no match.
// CHECK-LABEL: func.func @lrn_extra_user
// CHECK-NOT: nn.lrn
// CHECK: nn.avg_pool2d
// CHECK: func.return %lrn, %avg_back
func.func @lrn_extra_user(%x: tensor<1x6x2x2xf32>) -> (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) {
  %sq = nn.mul %x, %x : (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
  %sq_view = nn.reshape %sq : (tensor<1x6x2x2xf32>) -> tensor<1x1x6x4xf32>
  %avg = nn.avg_pool2d %sq_view kernel [3, 1] strides [1, 1] pads [1, 0, 1, 0] count_include_pad : (tensor<1x1x6x4xf32>) -> tensor<1x1x6x4xf32>
  %avg_back = nn.reshape %avg : (tensor<1x1x6x4xf32>) -> tensor<1x6x2x2xf32>
  %bias = nn.constant dense<1.000000e+00> : tensor<f32>
  %den = nn.add %avg_back, %bias : (tensor<1x6x2x2xf32>, tensor<f32>) -> tensor<1x6x2x2xf32>
  %lrn = nn.div %x, %den : (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
  func.return %lrn, %avg_back : tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>
}
