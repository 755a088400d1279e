// fold-reshapes: chains of reshapes/flattens become one reshape, reshapes to the same
// shape disappear, transpose chains compose, identity transposes disappear, and a
// transpose that moves only size-1 axes becomes a reshape (a free view).
// RUN: rapid-opt %s --split-input-file -p fold-reshapes | filecheck %s

// CHECK-LABEL: func.func @view_chain
// CHECK-NEXT:    %c = nn.reshape %x {nn.name = "c"} : (tensor<2x3x4xf32>) -> tensor<24xf32>
// CHECK-NEXT:    func.return %c
func.func @view_chain(%x: tensor<2x3x4xf32>) -> tensor<24xf32> {
  %a = nn.reshape %x {nn.name = "a"} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  %b = nn.flatten %a axis 1 {nn.name = "b"} : (tensor<6x4xf32>) -> tensor<6x4xf32>
  %c = nn.reshape %b {nn.name = "c"} : (tensor<6x4xf32>) -> tensor<24xf32>
  func.return %c : tensor<24xf32>
}

// -----

// A reshape back to the input's shape is the input; an inner reshape with another user stays.
// CHECK-LABEL: func.func @round_trip
// CHECK-NEXT:    %a = nn.reshape %x {nn.name = "a"}
// CHECK-NEXT:    %y = nn.add %x, %x
// CHECK-NEXT:    func.return %y, %a
func.func @round_trip(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<6xf32>) {
  %a = nn.reshape %x {nn.name = "a"} : (tensor<2x3xf32>) -> tensor<6xf32>
  %b = nn.reshape %a {nn.name = "b"} : (tensor<6xf32>) -> tensor<2x3xf32>
  %y = nn.add %b, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y, %a : tensor<2x3xf32>, tensor<6xf32>
}

// -----

// transpose(transpose(x, [1, 2, 0]), [2, 0, 1]) is the identity; with [0, 2, 1] it is
// one transpose by [1, 0, 2] (result axis i is input axis p[q[i]]).
// CHECK-LABEL: func.func @transposes
// CHECK-NEXT:    %c = nn.transpose %x perm [1, 0, 2] {nn.name = "c"} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
// CHECK-NEXT:    func.return %x, %c
func.func @transposes(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<3x2x4xf32>) {
  %a = nn.transpose %x perm [1, 2, 0] {nn.name = "a"} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %b = nn.transpose %a perm [2, 0, 1] {nn.name = "b"} : (tensor<3x4x2xf32>) -> tensor<2x3x4xf32>
  %c = nn.transpose %a perm [0, 2, 1] {nn.name = "c"} : (tensor<3x4x2xf32>) -> tensor<3x2x4xf32>
  func.return %b, %c : tensor<2x3x4xf32>, tensor<3x2x4xf32>
}

// -----

// Only the size-1 axis moves: a reshape. Moving two axes longer than 1 stays a transpose.
// CHECK-LABEL: func.func @unit_axes
// CHECK-NEXT:    %a = nn.reshape %x {nn.name = "a"} : (tensor<2x1x4xf32>) -> tensor<1x2x4xf32>
// CHECK-NEXT:    %b = nn.transpose %x perm [2, 1, 0] {nn.name = "b"}
func.func @unit_axes(%x: tensor<2x1x4xf32>) -> (tensor<1x2x4xf32>, tensor<4x1x2xf32>) {
  %a = nn.transpose %x perm [1, 0, 2] {nn.name = "a"} : (tensor<2x1x4xf32>) -> tensor<1x2x4xf32>
  %b = nn.transpose %x perm [2, 1, 0] {nn.name = "b"} : (tensor<2x1x4xf32>) -> tensor<4x1x2xf32>
  func.return %a, %b : tensor<1x2x4xf32>, tensor<4x1x2xf32>
}

// -----

// Ops marked to run on the host are left alone.
// CHECK-LABEL: func.func @host
// CHECK-NEXT:    %a = nn.reshape %x {nn.host}
// CHECK-NEXT:    %b = nn.reshape %a
func.func @host(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %a = nn.reshape %x {nn.host} : (tensor<2x3xf32>) -> tensor<6xf32>
  %b = nn.reshape %a : (tensor<6xf32>) -> tensor<3x2xf32>
  func.return %b : tensor<3x2xf32>
}
