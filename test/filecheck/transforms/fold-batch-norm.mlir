// fold-batch-norm: a batch norm whose input is a conv2d or gemm result used by nothing
// else becomes that op with scaled weights and a new bias, written as nn ops on the
// original operands (named <layer>.bn_*) for fold-constants to evaluate.
// RUN: rapid-opt %s --split-input-file -p fold-batch-norm | filecheck %s
// RUN: rapid-opt %s --split-input-file -p fold-batch-norm,fold-constants | filecheck %s --check-prefix=FOLD

// s = scale / sqrt(var + eps) = [2, 3] / sqrt([4, 1]) = [1, 3]; W' = W * s per output
// channel = [1, 6]; without a conv bias, b' = shift - mean * s = [1, 1] - [2, 1] * s = [-1, -2].
// CHECK-LABEL: func.func @conv
// CHECK:         %conv_bn_eps = nn.constant dense<0.000000e+00> : tensor<f32> {nn.name = "conv.bn_eps"}
// CHECK-NEXT:    %conv_bn_var_eps = nn.add %var, %conv_bn_eps {nn.name = "conv.bn_var_eps"}
// CHECK-NEXT:    %conv_bn_std = nn.sqrt %conv_bn_var_eps {nn.name = "conv.bn_std"}
// CHECK-NEXT:    %conv_bn_scale = nn.div %scale, %conv_bn_std {nn.name = "conv.bn_scale"}
// CHECK-NEXT:    %conv_bn_scale_oihw = nn.reshape %conv_bn_scale {nn.name = "conv.bn_scale_oihw"} : (tensor<2xf32>) -> tensor<2x1x1x1xf32>
// CHECK-NEXT:    %conv_bn_weight = nn.mul %w, %conv_bn_scale_oihw {nn.name = "conv.bn_weight"}
// CHECK-NEXT:    %conv_bn_mean_scaled = nn.mul %mean, %conv_bn_scale {nn.name = "conv.bn_mean_scaled"}
// CHECK-NEXT:    %conv_bn_bias = nn.sub %shift, %conv_bn_mean_scaled {nn.name = "conv.bn_bias"}
// CHECK-NEXT:    %y = nn.conv2d %x, %conv_bn_weight bias %conv_bn_bias strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "conv"}
// CHECK-NEXT:    func.return %y
// FOLD-LABEL: func.func @conv
// FOLD-NEXT:    %conv_bn_weight = nn.constant dense<{{\[\[\[\[}}1.000000e+00]]], {{\[\[\[}}6.000000e+00]]]]> : tensor<2x1x1x1xf32>
// FOLD-NEXT:    %conv_bn_bias = nn.constant dense<[-1.000000e+00, -2.000000e+00]> : tensor<2xf32>
// FOLD-NEXT:    %y = nn.conv2d %x, %conv_bn_weight bias %conv_bn_bias
// FOLD-NEXT:    func.return %y
func.func @conv(%x: tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %w = nn.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %scale = nn.constant dense<[2.0, 3.0]> : tensor<2xf32>
  %shift = nn.constant dense<[1.0, 1.0]> : tensor<2xf32>
  %mean = nn.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %var = nn.constant dense<[4.0, 1.0]> : tensor<2xf32>
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "conv"} : (tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x3x3xf32>
  %z = nn.batch_norm %y, %scale, %shift, %mean, %var epsilon 0.000000e+00 {nn.name = "bn"} : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  func.return %z : tensor<1x2x3x3xf32>
}

// -----

// With a conv bias b: b' = (b - mean) * s + shift = ([3, 4] - [2, 1]) * [1, 3] + [1, 1] = [2, 10].
// CHECK-LABEL: func.func @conv_bias
// CHECK:         %conv_bn_centred = nn.sub %b, %mean {nn.name = "conv.bn_centred"}
// CHECK-NEXT:    %conv_bn_centred_scaled = nn.mul %conv_bn_centred, %conv_bn_scale {nn.name = "conv.bn_centred_scaled"}
// CHECK-NEXT:    %conv_bn_bias = nn.add %conv_bn_centred_scaled, %shift {nn.name = "conv.bn_bias"}
// CHECK-NEXT:    %y = nn.conv2d %x, %conv_bn_weight bias %conv_bn_bias
// FOLD-LABEL: func.func @conv_bias
// FOLD:         %conv_bn_bias = nn.constant dense<[2.000000e+00, 1.000000e+01]> : tensor<2xf32>
func.func @conv_bias(%x: tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %w = nn.constant dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>
  %b = nn.constant dense<[3.0, 4.0]> : tensor<2xf32>
  %scale = nn.constant dense<[2.0, 3.0]> : tensor<2xf32>
  %shift = nn.constant dense<[1.0, 1.0]> : tensor<2xf32>
  %mean = nn.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %var = nn.constant dense<[4.0, 1.0]> : tensor<2xf32>
  %y = nn.conv2d %x, %w bias %b strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "conv"} : (tensor<1x1x3x3xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  %z = nn.batch_norm %y, %scale, %shift, %mean, %var epsilon 0.000000e+00 {nn.name = "bn"} : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  func.return %z : tensor<1x2x3x3xf32>
}

// -----

// A gemm with trans_b scales the rows of B; its beta scales C first and becomes 1:
// C' = (0.5 * [2, 2] - [2, 1]) * [1, 3] + [1, 1] = [0, 1].
// CHECK-LABEL: func.func @gemm
// CHECK:         %fc_bn_scale_rows = nn.reshape %fc_bn_scale {nn.name = "fc.bn_scale_rows"} : (tensor<2xf32>) -> tensor<2x1xf32>
// CHECK-NEXT:    %fc_bn_weight = nn.mul %w, %fc_bn_scale_rows {nn.name = "fc.bn_weight"}
// CHECK-NEXT:    %fc_bn_beta = nn.constant dense<5.000000e-01> : tensor<f32> {nn.name = "fc.bn_beta"}
// CHECK-NEXT:    %fc_bn_beta_c = nn.mul %c, %fc_bn_beta {nn.name = "fc.bn_beta_c"}
// CHECK:         %y = nn.gemm %x, %fc_bn_weight bias %fc_bn_bias trans_b alpha 2.000000e+00 beta 1.000000e+00 {nn.name = "fc"}
// FOLD-LABEL: func.func @gemm
// FOLD-NEXT:    %fc_bn_weight = nn.constant dense<{{\[\[}}1.000000e+00, 1.000000e+00], [3.000000e+00, 3.000000e+00]]> : tensor<2x2xf32>
// FOLD-NEXT:    %fc_bn_bias = nn.constant dense<[0.000000e+00, 1.000000e+00]> : tensor<2xf32>
func.func @gemm(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = nn.constant dense<[[1.0, 1.0], [1.0, 1.0]]> : tensor<2x2xf32>
  %c = nn.constant dense<[2.0, 2.0]> : tensor<2xf32>
  %scale = nn.constant dense<[2.0, 3.0]> : tensor<2xf32>
  %shift = nn.constant dense<[1.0, 1.0]> : tensor<2xf32>
  %mean = nn.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %var = nn.constant dense<[4.0, 1.0]> : tensor<2xf32>
  %y = nn.gemm %x, %w bias %c trans_b alpha 2.000000e+00 beta 5.000000e-01 {nn.name = "fc"} : (tensor<1x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %z = nn.batch_norm %y, %scale, %shift, %mean, %var epsilon 0.000000e+00 {nn.name = "bn"} : (tensor<1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %z : tensor<1x2xf32>
}

// -----

// Not folded: the conv result has a second user; the batch norm follows a relu; the conv
// runs on the host.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-3: nn.batch_norm
// CHECK-NOT:     nn.batch_norm
func.func @kept(%x: tensor<1x2x3x3xf32>, %w: tensor<2x2x1x1xf32>, %p: tensor<2xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x2x3x3xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x3x3xf32>
  %a = nn.batch_norm %y, %p, %p, %p, %p epsilon 1.000000e+00 : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  %r = nn.relu %x : tensor<1x2x3x3xf32>
  %b = nn.batch_norm %r, %p, %p, %p, %p epsilon 1.000000e+00 : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  %h = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.host} : (tensor<1x2x3x3xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x3x3xf32>
  %c = nn.batch_norm %h, %p, %p, %p, %p epsilon 1.000000e+00 : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  func.return %a, %y, %b, %c : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>
}
