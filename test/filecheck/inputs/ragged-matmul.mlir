// A matrix product whose extents no split of rapid-4c divides evenly: uneven core and corelet
// shares (input of convert-tile-to-mem.mlir).
func.func @main(%a: tensor<7x16xf32>, %b: tensor<16x10xf32>) -> tensor<7x10xf32> {
  %y = nn.matmul %a, %b {nn.name = "mm"} : (tensor<7x16xf32>, tensor<16x10xf32>) -> tensor<7x10xf32>
  func.return %y : tensor<7x10xf32>
}
