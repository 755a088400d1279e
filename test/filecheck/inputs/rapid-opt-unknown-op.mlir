// A parse error for test/filecheck/tools/rapid-opt-errors.mlir.
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.foo %x : tensor<4xf32>
  func.return %y : tensor<4xf32>
}
