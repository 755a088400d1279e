// A 3x3 padded conv with a bias and a fused relu, 5 input channels (for ic-split-conv.json).
func.func @main(%x: tensor<1x5x4x4xf32> {nn.name = "x"}, %w: tensor<6x5x3x3xf32> {nn.name = "w"}, %b: tensor<6xf32> {nn.name = "b"}) -> (tensor<1x6x4x4xf32> {nn.name = "y"}) {
  %y = nn.conv2d %x, %w bias %b strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv"} : (tensor<1x5x4x4xf32>, tensor<6x5x3x3xf32>, tensor<6xf32>) -> tensor<1x6x4x4xf32>
  %r = nn.relu %y : tensor<1x6x4x4xf32>
  func.return %r : tensor<1x6x4x4xf32>
}
