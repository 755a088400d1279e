// SFU layers convert-tile-to-mem rejects (sfu-kernels.mlir runs this file).
// Five dims of the tile stay > 1 after the core and corelet splits, and the broadcast
// operand's pattern merges none of them: more than the ISA's four access dims.
func.func @wide(%x: tensor<3x12x3x5x6xf32>, %y: tensor<12x1x5x1xf32>) -> tensor<3x12x3x5x6xf32> {
  %s = nn.add %x, %y {nn.name = "wide"} : (tensor<3x12x3x5x6xf32>, tensor<12x1x5x1xf32>) -> tensor<3x12x3x5x6xf32>
  func.return %s : tensor<3x12x3x5x6xf32>
}

// -----

func.func @vocab(%x: tensor<2x50000xf32>) -> tensor<2x50000xf32> {
  %s = nn.softmax %x axis -1 {nn.name = "vocab"} : tensor<2x50000xf32>
  func.return %s : tensor<2x50000xf32>
}
