// dce (xDSL's dead-code elimination) on nn IR: every nn op is side-effect free (Pure),
// so ops whose results nothing uses are removed, weights included; the graph passes of
// the pipeline leave such ops behind (the inner ops of a folded chain).
// RUN: rapid-opt %s -p dce | filecheck %s

// CHECK-LABEL: func.func @dead
// CHECK-NEXT:    %w = nn.weight "w"
// CHECK-NEXT:    %y = nn.matmul %x, %w
// CHECK-NEXT:    func.return %y
func.func @dead(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w = nn.weight "w" : tensor<2x2xf32>
  %unused = nn.weight "unused" : tensor<2x2xf32>
  %t = nn.transpose %unused perm [1, 0] : (tensor<2x2xf32>) -> tensor<2x2xf32>
  %r = nn.relu %t : tensor<2x2xf32>
  %y = nn.matmul %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  %s = nn.softmax %y axis 1 : tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
