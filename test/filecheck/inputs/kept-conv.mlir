// A 3x3 conv whose output only a 1x1 conv reads (for kept-conv.json: the output stays in LX).
func.func @main(%x: tensor<1x8x8x8xf32> {nn.name = "x"}, %w1: tensor<16x8x3x3xf32> {nn.name = "w1"}, %w2: tensor<32x16x1x1xf32> {nn.name = "w2"}) -> (tensor<1x32x8x8xf32> {nn.name = "y"}) {
  %a = nn.conv2d %x, %w1 strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv2"} : (tensor<1x8x8x8xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x8x8xf32>
  %r = nn.relu %a : tensor<1x16x8x8xf32>
  %y = nn.conv2d %r, %w2 strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "conv3"} : (tensor<1x16x8x8xf32>, tensor<32x16x1x1xf32>) -> tensor<1x32x8x8xf32>
  func.return %y : tensor<1x32x8x8xf32>
}
