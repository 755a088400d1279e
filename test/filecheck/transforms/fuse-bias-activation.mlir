// fuse-bias-activation: a constant per-channel (conv) or per-column (gemm, 2-D matmul)
// add becomes the layer's bias, and a relu or clip after a conv2d or gemm becomes its
// act_min / act_max clamp. The surviving op is the layer: it keeps its nn.name and SSA
// name; the new bias ops are named after it. Layers with several users, non-constant or
// non-per-channel addends, ops marked nn.host and ops in other blocks stay as they are.
// RUN: rapid-opt %s --split-input-file -p fuse-bias-activation | filecheck %s

// A [C, 1, 1] constant add and a relu after a conv: one conv with bias and act_min 0.
// CHECK-LABEL: func.func @conv_bias_relu
// CHECK-NEXT: %c = nn.constant dense<{{.*}}> : tensor<4x1x1xf32>
// CHECK-NEXT: %conv1_bias_view = nn.reshape %c {nn.name = "conv1.bias_view"} : (tensor<4x1x1xf32>) -> tensor<4xf32>
// CHECK-NEXT: %y = nn.conv2d %x, %w bias %conv1_bias_view strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_min 0.000000e+00 {nn.name = "conv1"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
// CHECK-NEXT: func.return %y : tensor<1x4x6x6xf32>
func.func @conv_bias_relu(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "conv1"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %c = nn.constant dense<[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]> : tensor<4x1x1xf32>
  %a = nn.add %y, %c {nn.name = "conv1.add"} : (tensor<1x4x6x6xf32>, tensor<4x1x1xf32>) -> tensor<1x4x6x6xf32>
  %r = nn.relu %a {nn.name = "relu1"} : tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}

// -----

// The addend first, a weight seen through a reshape, and a conv with a bias already:
// the two biases are added (a constant subgraph for fold-constants); the conv is
// re-created at the add's place (after the weight it now uses).
// CHECK-LABEL: func.func @conv_existing_bias
// CHECK-NEXT: %b = nn.weight "b" : tensor<4xf32>
// CHECK-NEXT: %c = nn.weight "c" : tensor<4xf32>
// CHECK-NEXT: %c4 = nn.reshape %c : (tensor<4xf32>) -> tensor<1x4x1x1xf32>
// CHECK-NEXT: %conv_bias_view = nn.reshape %c4 {nn.name = "conv.bias_view"} : (tensor<1x4x1x1xf32>) -> tensor<4xf32>
// CHECK-NEXT: %conv_bias = nn.add %b, %conv_bias_view {nn.name = "conv.bias"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT: %y = nn.conv2d %x, %w bias %conv_bias strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NEXT: func.return %y : tensor<1x4x8x8xf32>
func.func @conv_existing_bias(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  %b = nn.weight "b" : tensor<4xf32>
  %y = nn.conv2d %x, %w bias %b strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  %c = nn.weight "c" : tensor<4xf32>
  %c4 = nn.reshape %c : (tensor<4xf32>) -> tensor<1x4x1x1xf32>
  %a = nn.add %c4, %y : (tensor<1x4x1x1xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  func.return %a : tensor<1x4x8x8xf32>
}

// -----

// ReLU6 (MobileNetV2): a clip after a depthwise conv.
// CHECK-LABEL: func.func @conv_clip
// CHECK-NEXT: %y = nn.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 4 act_min 0.000000e+00 act_max 6.000000e+00 {nn.name = "dw"} : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NEXT: func.return %y : tensor<1x4x8x8xf32>
func.func @conv_clip(%x: tensor<1x4x8x8xf32>, %w: tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 4 {nn.name = "dw"} : (tensor<1x4x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x8x8xf32>
  %r = nn.clip %y min 0.0 max 6.0 {nn.name = "dw.relu6"} : tensor<1x4x8x8xf32>
  func.return %r : tensor<1x4x8x8xf32>
}

// -----

// A second activation is intersected with the clamp the layer has.
// CHECK-LABEL: func.func @clamp_intersection
// CHECK-NEXT: %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_min 0.000000e+00 act_max 4.000000e+00 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
// CHECK-NEXT: func.return %y
func.func @clamp_intersection(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_min -1.0 act_max 4.0 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %r = nn.clip %y min 0.0 max 6.0 : tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}

// -----

// Disjoint ranges make a constant, not a clamp: left alone.
// CHECK-LABEL: func.func @clamp_disjoint
// CHECK-NEXT: %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_max -1.000000e+00
// CHECK-NEXT: %r = nn.relu %y
func.func @clamp_disjoint(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_max -1.0 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %r = nn.relu %y : tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}

// -----

// A dense layer: gemm + [N] add + relu.
// CHECK-LABEL: func.func @gemm_bias_relu
// CHECK-NEXT: %c = nn.constant dense<{{.*}}> : tensor<3xf32>
// CHECK-NEXT: %y = nn.gemm %x, %w bias %c trans_b alpha 1.000000e+00 beta 1.000000e+00 act_min 0.000000e+00 {nn.name = "fc"} : (tensor<2x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: func.return %y : tensor<2x3xf32>
func.func @gemm_bias_relu(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>) -> tensor<2x3xf32> {
  %y = nn.gemm %x, %w trans_b alpha 1.0 beta 1.0 {nn.name = "fc"} : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<2x3xf32>
  %c = nn.constant dense<[1.0, -2.0, 3.0]> : tensor<3xf32>
  %a = nn.add %y, %c : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %r = nn.relu %a : tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}

// -----

// A gemm without a bias: its beta was moot and becomes 1 (alpha stays).
// CHECK-LABEL: func.func @gemm_beta_moot
// CHECK-NEXT: %c = nn.constant dense<{{.*}}> : tensor<1x3xf32>
// CHECK-NEXT: %fc_bias_view = nn.reshape %c {nn.name = "fc.bias_view"} : (tensor<1x3xf32>) -> tensor<3xf32>
// CHECK-NEXT: %y = nn.gemm %x, %w bias %fc_bias_view alpha 5.000000e-01 beta 1.000000e+00 {nn.name = "fc"} : (tensor<2x8xf32>, tensor<8x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
func.func @gemm_beta_moot(%x: tensor<2x8xf32>, %w: tensor<8x3xf32>) -> tensor<2x3xf32> {
  %y = nn.gemm %x, %w alpha 0.5 beta 0.0 {nn.name = "fc"} : (tensor<2x8xf32>, tensor<8x3xf32>) -> tensor<2x3xf32>
  %c = nn.constant dense<[[1.0, -2.0, 3.0]]> : tensor<1x3xf32>
  %a = nn.add %y, %c : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
  func.return %a : tensor<2x3xf32>
}

// -----

// A gemm whose bias is scaled (beta 2): the add stays (the relu still fuses).
// CHECK-LABEL: func.func @gemm_scaled_bias
// CHECK-NEXT: %c = nn.constant
// CHECK-NEXT: %y = nn.gemm %x, %w bias %b alpha 1.000000e+00 beta 2.000000e+00 {nn.name = "fc"}
// CHECK-NEXT: %a = nn.add %y, %c
// CHECK-NEXT: %r = nn.relu %a
func.func @gemm_scaled_bias(%x: tensor<2x8xf32>, %w: tensor<8x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
  %c = nn.constant dense<[1.0, -2.0, 3.0]> : tensor<3xf32>
  %y = nn.gemm %x, %w bias %b alpha 1.0 beta 2.0 {nn.name = "fc"} : (tensor<2x8xf32>, tensor<8x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %a = nn.add %y, %c : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %r = nn.relu %a : tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}

// -----

// A 2-D matmul plus a [1, N] constant becomes a gemm, named as the matmul was; then the
// clip fuses into it.
// CHECK-LABEL: func.func @matmul_bias_clip
// CHECK-NEXT: %c = nn.constant dense<{{.*}}> : tensor<1x3xf32>
// CHECK-NEXT: %proj_bias_view = nn.reshape %c {nn.name = "proj.bias_view"} : (tensor<1x3xf32>) -> tensor<3xf32>
// CHECK-NEXT: %y = nn.gemm %x, %w bias %proj_bias_view alpha 1.000000e+00 beta 1.000000e+00 act_min -1.000000e+00 act_max 1.000000e+00 {nn.name = "proj"} : (tensor<2x8xf32>, tensor<8x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: func.return %y : tensor<2x3xf32>
func.func @matmul_bias_clip(%x: tensor<2x8xf32>, %w: tensor<8x3xf32>) -> tensor<2x3xf32> {
  %y = nn.matmul %x, %w {nn.name = "proj"} : (tensor<2x8xf32>, tensor<8x3xf32>) -> tensor<2x3xf32>
  %c = nn.constant dense<[[1.0, -2.0, 3.0]]> : tensor<1x3xf32>
  %a = nn.add %y, %c : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
  %r = nn.clip %a min -1.0 max 1.0 : tensor<2x3xf32>
  func.return %r : tensor<2x3xf32>
}

// -----

// A scalar addend: broadcast into a bias vector as zeros plus the scalar.
// CHECK-LABEL: func.func @conv_scalar_addend
// CHECK-NEXT: %s = nn.constant dense<5.000000e-01> : tensor<f32>
// CHECK-NEXT: %conv_bias_view = nn.reshape %s {nn.name = "conv.bias_view"} : (tensor<f32>) -> tensor<1xf32>
// CHECK-NEXT: %conv_bias_zero = nn.constant dense<0.000000e+00> : tensor<4xf32> {nn.name = "conv.bias_zero"}
// CHECK-NEXT: %conv_bias = nn.add %conv_bias_zero, %conv_bias_view {nn.name = "conv.bias"} : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
// CHECK-NEXT: %y = nn.conv2d %x, %w bias %conv_bias strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "conv"}
func.func @conv_scalar_addend(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "conv"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %s = nn.constant dense<0.5> : tensor<f32>
  %a = nn.add %y, %s : (tensor<1x4x6x6xf32>, tensor<f32>) -> tensor<1x4x6x6xf32>
  func.return %a : tensor<1x4x6x6xf32>
}

// -----

// Unnamed layers: in a function the pass changes, the remaining ops of the kinds whose
// count changed get the names convert-nn-to-tile would have generated before, so they
// do not shift (relu_1 stays relu_1 although relu_0 is gone).
// CHECK-LABEL: func.func @generated_names
// CHECK-NEXT: %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_min 0.000000e+00 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
// CHECK-NEXT: %s = nn.sigmoid %y : tensor<1x4x6x6xf32>
// CHECK-NEXT: %r2 = nn.relu %s {nn.name = "relu_1"} : tensor<1x4x6x6xf32>
func.func @generated_names(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %r = nn.relu %y : tensor<1x4x6x6xf32>
  %s = nn.sigmoid %r : tensor<1x4x6x6xf32>
  %r2 = nn.relu %s : tensor<1x4x6x6xf32>
  func.return %r2 : tensor<1x4x6x6xf32>
}

// -----

// Not fused: the conv has another user (the relu also waits for its add).
// CHECK-LABEL: func.func @conv_two_users
// CHECK-NEXT: %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 :
// CHECK-NEXT: %c = nn.constant
// CHECK-NEXT: %a = nn.add %y, %c
// CHECK-NEXT: %r = nn.relu %y
func.func @conv_two_users(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %c = nn.constant dense<[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]> : tensor<4x1x1xf32>
  %a = nn.add %y, %c : (tensor<1x4x6x6xf32>, tensor<4x1x1xf32>) -> tensor<1x4x6x6xf32>
  %r = nn.relu %y : tensor<1x4x6x6xf32>
  func.return %a, %r : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>
}

// -----

// Not fused: the addend is not a constant (a function argument).
// CHECK-LABEL: func.func @addend_not_constant
// CHECK-NEXT: %y = nn.conv2d %x, %w strides
// CHECK-NEXT: %a = nn.add %y, %b
func.func @addend_not_constant(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4x1x1xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %a = nn.add %y, %b : (tensor<1x4x6x6xf32>, tensor<4x1x1xf32>) -> tensor<1x4x6x6xf32>
  func.return %a : tensor<1x4x6x6xf32>
}

// -----

// Not fused: addends that vary along other axes than the channels (a per-pixel
// constant, a per-row constant of a gemm), or that would broadcast the result.
// CHECK-LABEL: func.func @addend_not_per_channel
// CHECK-NEXT: %y = nn.conv2d %x, %w strides
// CHECK-NEXT: %c = nn.constant
// CHECK-NEXT: %a = nn.add %y, %c
// CHECK-NEXT: %g = nn.gemm %m, %n alpha
// CHECK-NEXT: %d = nn.constant
// CHECK-NEXT: %e = nn.add %g, %d
// CHECK-NEXT: %g2 = nn.gemm %m, %n alpha
// CHECK-NEXT: %f = nn.constant
// CHECK-NEXT: %h = nn.add %g2, %f
func.func @addend_not_per_channel(%x: tensor<1x3x4x4xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<2x8xf32>, %n: tensor<8x3xf32>) -> (tensor<1x4x2x2xf32>, tensor<2x3xf32>, tensor<2x2x3xf32>) {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x4x4xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x2x2xf32>
  %c = nn.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %a = nn.add %y, %c : (tensor<1x4x2x2xf32>, tensor<2x2xf32>) -> tensor<1x4x2x2xf32>
  %g = nn.gemm %m, %n alpha 1.0 beta 1.0 : (tensor<2x8xf32>, tensor<8x3xf32>) -> tensor<2x3xf32>
  %d = nn.constant dense<[[1.0], [2.0]]> : tensor<2x1xf32>
  %e = nn.add %g, %d : (tensor<2x3xf32>, tensor<2x1xf32>) -> tensor<2x3xf32>
  %g2 = nn.gemm %m, %n alpha 1.0 beta 1.0 : (tensor<2x8xf32>, tensor<8x3xf32>) -> tensor<2x3xf32>
  %f = nn.constant dense<1.0> : tensor<2x1x3xf32>
  %h = nn.add %g2, %f : (tensor<2x3xf32>, tensor<2x1x3xf32>) -> tensor<2x2x3xf32>
  func.return %a, %e, %h : tensor<1x4x2x2xf32>, tensor<2x3xf32>, tensor<2x2x3xf32>
}

// -----

// Not fused: a bias after the activation (the clamp comes after the bias), a batched
// matmul, and a relu after a matmul (convert-nn-to-tile fuses that one itself).
// CHECK-LABEL: func.func @wrong_order_or_kind
// CHECK-NEXT: %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_min 0.000000e+00 :
// CHECK-NEXT: %c = nn.constant
// CHECK-NEXT: %a = nn.add %y, %c
// CHECK-NEXT: %p = nn.matmul %m, %n
// CHECK-NEXT: %d = nn.constant
// CHECK-NEXT: %e = nn.add %p, %d
// CHECK-NEXT: %q = nn.matmul %k, %n
// CHECK-NEXT: %r = nn.relu %q
func.func @wrong_order_or_kind(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<2x2x8xf32>, %n: tensor<8x3xf32>, %k: tensor<2x8xf32>) -> (tensor<1x4x6x6xf32>, tensor<2x2x3xf32>, tensor<2x3xf32>) {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 act_min 0.0 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %c = nn.constant dense<[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]> : tensor<4x1x1xf32>
  %a = nn.add %y, %c : (tensor<1x4x6x6xf32>, tensor<4x1x1xf32>) -> tensor<1x4x6x6xf32>
  %p = nn.matmul %m, %n : (tensor<2x2x8xf32>, tensor<8x3xf32>) -> tensor<2x2x3xf32>
  %d = nn.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %e = nn.add %p, %d : (tensor<2x2x3xf32>, tensor<3xf32>) -> tensor<2x2x3xf32>
  %q = nn.matmul %k, %n : (tensor<2x8xf32>, tensor<8x3xf32>) -> tensor<2x3xf32>
  %r = nn.relu %q : tensor<2x3xf32>
  func.return %a, %e, %r : tensor<1x4x6x6xf32>, tensor<2x2x3xf32>, tensor<2x3xf32>
}

// -----

// Not fused: a layer, an add or an activation marked to run on the host.
// CHECK-LABEL: func.func @host_ops
// CHECK-NEXT: %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.host}
// CHECK-NEXT: %r = nn.relu %y
// CHECK-NEXT: %y2 = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 :
// CHECK-NEXT: %c = nn.constant
// CHECK-NEXT: %a = nn.add %y2, %c {nn.host}
// CHECK-NEXT: %y3 = nn.gemm %m, %n alpha 1.000000e+00 beta 1.000000e+00 :
// CHECK-NEXT: %r3 = nn.clip %y3 min 0.000000e+00 max 6.000000e+00 {nn.host}
func.func @host_ops(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %m: tensor<2x8xf32>, %n: tensor<8x3xf32>) -> (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>, tensor<2x3xf32>) {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.host} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %r = nn.relu %y : tensor<1x4x6x6xf32>
  %y2 = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  %c = nn.constant dense<[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]> : tensor<4x1x1xf32>
  %a = nn.add %y2, %c {nn.host} : (tensor<1x4x6x6xf32>, tensor<4x1x1xf32>) -> tensor<1x4x6x6xf32>
  %y3 = nn.gemm %m, %n alpha 1.0 beta 1.0 : (tensor<2x8xf32>, tensor<8x3xf32>) -> tensor<2x3xf32>
  %r3 = nn.clip %y3 min 0.0 max 6.0 {nn.host} : tensor<2x3xf32>
  func.return %r, %a, %r3 : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>, tensor<2x3xf32>
}

// -----

// Not fused: the activation is in another block (a region of another op).
// CHECK-LABEL: func.func @other_block
// CHECK-NEXT: %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 :
// CHECK-NEXT: "test.op"() ({
// CHECK-NEXT: %r = nn.relu %y
func.func @other_block(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  "test.op"() ({
    %r = nn.relu %y : tensor<1x4x6x6xf32>
    "test.termop"(%r) : (tensor<1x4x6x6xf32>) -> ()
  }) : () -> ()
  func.return
}
