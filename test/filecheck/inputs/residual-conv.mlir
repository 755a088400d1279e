// A 3x3 conv whose result plus the block input goes through a relu (a residual connection).
func.func @main(%x: tensor<1x8x8x8xf32> {nn.name = "x"}, %w: tensor<8x8x3x3xf32> {nn.name = "w"}) -> (tensor<1x8x8x8xf32> {nn.name = "y"}) {
  %c = nn.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv"} : (tensor<1x8x8x8xf32>, tensor<8x8x3x3xf32>) -> tensor<1x8x8x8xf32>
  %s = nn.add %c, %x {nn.name = "add"} : (tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  %y = nn.relu %s : tensor<1x8x8x8xf32>
  func.return %y : tensor<1x8x8x8xf32>
}
