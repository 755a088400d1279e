// A valid input for test/filecheck/tools/rapid-opt-errors.mlir.
func.func @ok(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.relu %x : tensor<4xf32>
  func.return %y : tensor<4xf32>
}
