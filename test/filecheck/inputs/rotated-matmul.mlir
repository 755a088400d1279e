func.func @main(%a: tensor<32x32xf32> {nn.name = "A"}, %b: tensor<32x16xf32> {nn.name = "B"}) -> (tensor<32x16xf32> {nn.name = "C"}) {
  %y = nn.matmul %a, %b {nn.name = "mm"} : (tensor<32x32xf32>, tensor<32x16xf32>) -> tensor<32x16xf32>
  func.return %y : tensor<32x16xf32>
}
