// Parse errors of the nn dialect's syntax. --parsing-diagnostics prints each error
// (file:line:col, the source line, a caret and the message) to stdout and exits 0.
// Line numbers are file-relative, also with --split-input-file. The line:col checks are
// literal (this filecheck has no [[@LINE]]): update them when inserting lines above.
//
// RUN: rapid-opt %s --split-input-file --parsing-diagnostics | filecheck %s

// unknown op
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.foo %x : tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: parse-errors.mlir:10:15
// CHECK: Operation nn.foo is not registered

// -----

// bad enum value: gelu approximation
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.gelu %x approximate erf : tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: parse-errors.mlir:20:31
// CHECK: Expected `none`, or `tanh`.

// -----

// bad enum value: pad mode
func.func @f(%x: tensor<4xf32>) -> tensor<6xf32> {
  %y = nn.pad %x pads [1, 1] mode foo value 0.0 : (tensor<4xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}
// CHECK: parse-errors.mlir:30:35
// CHECK: Expected `constant`, `reflect`, or `edge`.

// -----

// bad enum value: reduce kind
func.func @f(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  %y = nn.reduce prod %x axes [1] : (tensor<2x3xf32>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}
// CHECK: parse-errors.mlir:40:18
// CHECK: Expected `sum`, `mean`, or `max`.

// -----

// bad enum value: rnn direction
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x48x8xf32>, %r: tensor<1x48x16xf32>) {
  %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<1x48x8xf32>, %r : tensor<1x48x16xf32>) hidden_size 16 direction sideways -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: parse-errors.mlir:50:119
// CHECK: Expected `forward`, `reverse`, or `bidirectional`.

// -----

// bad enum value in the generic form
func.func @f(%x: tensor<4xf32>) -> tensor<6xf32> {
  %y = "nn.pad"(%x) <{pads = array<i64: 1, 1>, mode = #nn<pad_mode wrap>, value = 0.0 : f32}> : (tensor<4xf32>) -> tensor<6xf32>
  func.return %y : tensor<6xf32>
}
// CHECK: parse-errors.mlir:60:68
// CHECK: Expected `constant`, `reflect`, or `edge`.

// -----

// missing keyword: conv2d without pads
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: parse-errors.mlir:70:40
// CHECK: Expected 'pads'

// -----

// missing keyword: gemm without beta
func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b alpha 1.0 : (tensor<4x8xf32>, tensor<8x5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK: parse-errors.mlir:80:33
// CHECK: Expected 'beta'

// -----

// keywords out of order: clip max before min
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.clip %x max 1.0 min 0.0 : tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: parse-errors.mlir:90:27
// CHECK: Expected ':'

// -----

// integer where a float attribute is expected
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.clip %x min 1 : tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: parse-errors.mlir:100:23
// CHECK: Expected float literal

// -----

// missing type
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.relu %x
  func.return %y : tensor<4xf32>
}
// CHECK: parse-errors.mlir:111:3
// CHECK: Expected ':'

// -----

// nn.constant: a scalar instead of dense<...>
func.func @f() -> tensor<4xf32> {
  %c = nn.constant 1.0 : f32
  func.return %c : tensor<4xf32>
}
// CHECK: parse-errors.mlir:120:20
// CHECK: nn.constant expects a dense<...> : tensor<...> value

// -----

// nn.constant: a string instead of dense<...>
func.func @f() -> tensor<4xf32> {
  %c = nn.constant "w.npy" : tensor<4xf32>
  func.return %c : tensor<4xf32>
}
// CHECK: parse-errors.mlir:130:20
// CHECK: nn.constant expects a dense<...> : tensor<...> value

// -----

// nn.constant: dense literal and type disagree
func.func @f() -> tensor<3xf32> {
  %c = nn.constant dense<[1.0, 2.0]> : tensor<3xf32>
  func.return %c : tensor<3xf32>
}
// CHECK: parse-errors.mlir:141:3
// CHECK: Shape mismatch in dense literal. Expected [3] shape from the type, but got [2] shape.

// -----

// nn.weight: the name must be a string
func.func @f() -> tensor<4xf32> {
  %w = nn.weight w : tensor<4xf32>
  func.return %w : tensor<4xf32>
}
// CHECK: parse-errors.mlir:150:18
// CHECK: attribute expected

// -----

// undefined value
func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.relu %b : tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: parse-errors.mlir:165:1
// CHECK: values used but not defined: {{\[}}%b]
