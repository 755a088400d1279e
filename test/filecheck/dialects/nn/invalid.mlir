// One case per verifier error path of the nn dialect (nn.py and nn_shapes.py).
// --verify-diagnostics prints each error message (then the IR with the op marked) to
// stdout; the CHECK lines match the message line exactly (--match-full-lines), in order.
// Cases that the custom syntax cannot express use the generic op form.
//
// RUN: rapid-opt %s --split-input-file --verify-diagnostics | filecheck %s --match-full-lines

// result shape differs from the inferred one
func.func @f(%x: tensor<1x3x32x32xf32>, %w: tensor<16x3x3x3xf32>) -> tensor<1x16x32x32xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x32x32xf32>, tensor<16x3x3x3xf32>) -> tensor<1x16x32x32xf32>
  func.return %y : tensor<1x16x32x32xf32>
}
// CHECK: nn.conv2d: result has type tensor<1x16x32x32xf32> but the operands and attributes give tensor<1x16x30x30xf32>

// -----

// result element type differs from the operands'
func.func @f(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf16> {
  %y = nn.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf16>
  func.return %y : tensor<4xf16>
}
// CHECK: nn.add: result has type tensor<4xf16> but the operands and attributes give tensor<4xf32>

// -----

// one result of a multi-result op is wrong: the message names it
func.func @f(%x: tensor<2x10xf32>) -> tensor<2x6xf32> {
  %0, %1 = nn.split %x axis 1 sizes [3, 7] : (tensor<2x10xf32>) -> (tensor<2x3xf32>, tensor<2x6xf32>)
  func.return %1 : tensor<2x6xf32>
}
// CHECK: nn.split: result 1 has type tensor<2x6xf32> but the operands and attributes give tensor<2x7xf32>

// -----

// dynamic operand shape
func.func @f(%x: tensor<?x4xf32>, %w: tensor<4xf32>) -> tensor<1x4xf32> {
  %y = nn.add %x, %w : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  func.return %y : tensor<1x4xf32>
}
// CHECK: nn.add: operand 0 has type tensor<?x4xf32> but nn ops need static shapes with dimensions >= 1

// -----

// dynamic result shape
func.func @f(%x: tensor<2x4xf32>) -> tensor<?x4xf32> {
  %y = nn.reshape %x : (tensor<2x4xf32>) -> tensor<?x4xf32>
  func.return %y : tensor<?x4xf32>
}
// CHECK: nn.reshape: result 0 has type tensor<?x4xf32> but nn ops need static shapes with dimensions >= 1

// -----

// integer operand of a float op
func.func @f(%a: tensor<4x8xi32>, %b: tensor<8x5xi32>) -> tensor<4x5xi32> {
  %y = nn.matmul %a, %b : (tensor<4x8xi32>, tensor<8x5xi32>) -> tensor<4x5xi32>
  func.return %y : tensor<4x5xi32>
}
// CHECK: nn.matmul: lhs must have element type f32 or f16 but has i32

// -----

// f64 is not an nn element type
func.func @f(%x: tensor<4xf64>) -> tensor<4xf64> {
  %y = nn.relu %x : tensor<4xf64>
  func.return %y : tensor<4xf64>
}
// CHECK: nn.relu: input must have element type f32 or f16 but has f64

// -----

// data-movement ops also accept integers, but not other types
func.func @f(%x: tensor<2x3xbf16>) -> tensor<3x2xbf16> {
  %y = nn.transpose %x perm [1, 0] : (tensor<2x3xbf16>) -> tensor<3x2xbf16>
  func.return %y : tensor<3x2xbf16>
}
// CHECK: nn.transpose: input must have element type f32, f16, i32 or i64 but has bf16

// -----

// operands with different element types
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf16>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf16>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: weight has element type f16 but input has f32

// -----

// optional operand with a different element type
func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>, %c: tensor<5xf16>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b bias %c alpha 1.0 beta 1.0 : (tensor<4x8xf32>, tensor<8x5xf32>, tensor<5xf16>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK: nn.gemm: bias has element type f16 but lhs has f32

// -----

// variadic operand with mixed element types
func.func @f(%a: tensor<2xf32>, %b: tensor<3xf16>) -> tensor<5xf32> {
  %y = nn.concat %a, %b axis 0 : (tensor<2xf32>, tensor<3xf16>) -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}
// CHECK: nn.concat: inputs[1] has element type f16 but inputs[0] has f32

// -----

// unary ops: the result type must be the input type (type constraint)
func.func @f(%x: tensor<4xf32>) -> tensor<5xf32> {
  %y = "nn.relu"(%x) : (tensor<4xf32>) -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}
// CHECK: result 'output' at position 0 does not verify:
// CHECK-NEXT: attribute tensor<4xf32> expected from variable 'T', but got tensor<5xf32>

// -----

// nn.constant: value type and result type differ (generic form only)
func.func @f() -> tensor<3xf32> {
  %c = "nn.constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<3xf32>
  func.return %c : tensor<3xf32>
}
// CHECK: nn.constant: value has type tensor<2xf32> but result has type tensor<3xf32>

// -----

// nn.weight: empty name
func.func @f() -> tensor<3xf32> {
  %w = nn.weight "" : tensor<3xf32>
  func.return %w : tensor<3xf32>
}
// CHECK: nn.weight: weight_name must not be empty

// -----

// conv2d: input rank
func.func @f(%x: tensor<3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: input must be 4-d but has shape 3x8x8

// -----

// conv2d: weight rank
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: weight must be 4-d but has shape 4x3x3

// -----

// conv2d: groups < 1
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 0 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: groups must be >= 1 but found 0

// -----

// conv2d: channels not divisible by groups
func.func @f(%x: tensor<1x6x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 4 : (tensor<1x6x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: input has 6 channels, which is not divisible by groups 4

// -----

// conv2d: output channels not divisible by groups
func.func @f(%x: tensor<1x8x8x8xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 4 : (tensor<1x8x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: weight has 6 output channels, which is not divisible by groups 4

// -----

// conv2d: input channel mismatch
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x64x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x64x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: weight has 64 input channels per group but input has 3

// -----

// conv2d: input channel mismatch with groups
func.func @f(%x: tensor<1x8x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 2 : (tensor<1x8x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: weight has 2 input channels per group but input has 4 (8 channels in 2 groups)

// -----

// conv2d: bias shape
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<1x4xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w bias %b strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<1x4xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: bias must have shape 4 but has shape 1x4

// -----

// conv2d: empty kernel (weight with a zero spatial size)
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x0x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x0x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: operand 1 has type tensor<4x3x0x3xf32> but nn ops need static shapes with dimensions >= 1

// -----

// conv2d: strides count
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: strides has 1 entry but 2 are expected

// -----

// conv2d: stride 0
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 0] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: strides entries must be >= 1 but found 0

// -----

// conv2d: pads count
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [1, 1] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: pads has 2 entries but 4 are expected

// -----

// conv2d: negative pad
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, -1, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: pads entries must be >= 0 but found -1

// -----

// conv2d: dilations count
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: dilations has 3 entries but 2 are expected

// -----

// conv2d: dilation 0
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [0, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: dilations entries must be >= 1 but found 0

// -----

// conv2d: kernel taller than the padded input
func.func @f(%x: tensor<1x3x3x8xf32>, %w: tensor<4x3x5x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x3x8xf32>, tensor<4x3x5x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: window of 5 (dilation 1) does not fit the padded input height 3+0+0

// -----

// conv2d: dilated kernel wider than the padded input
func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 1, 0, 0] dilations [1, 5] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: nn.conv2d: window of 3 (dilation 5) does not fit the padded input width 8+1+0

// -----

// max_pool2d: input rank
func.func @f(%x: tensor<4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] : (tensor<4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: input must be 4-d but has shape 4x8x8

// -----

// max_pool2d: kernel count
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: kernel has 1 entry but 2 are expected

// -----

// max_pool2d: kernel 0
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [0, 2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: kernel entries must be >= 1 but found 0

// -----

// max_pool2d: pads count
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0] dilations [1, 1] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: pads has 2 entries but 4 are expected

// -----

// max_pool2d: negative pad
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, -1, 0] dilations [1, 1] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: pads entries must be >= 0 but found -1

// -----

// max_pool2d: pad as large as the kernel
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 2] dilations [1, 1] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: pads [0, 0, 0, 2] must be smaller than the kernel [2, 2]

// -----

// max_pool2d: strides count
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [2, 2] strides [2, 2, 2] pads [0, 0, 0, 0] dilations [1, 1] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: strides has 3 entries but 2 are expected

// -----

// max_pool2d: dilation 0
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 0] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: dilations entries must be >= 1 but found 0

// -----

// max_pool2d: window larger than the input
func.func @f(%x: tensor<1x4x2x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [3, 3] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] : (tensor<1x4x2x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: window of 3 (dilation 1) does not fit the padded input height 2+0+0

// -----

// avg_pool2d: stride 0
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.avg_pool2d %x kernel [2, 2] strides [0, 2] pads [0, 0, 0, 0] : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.avg_pool2d: strides entries must be >= 1 but found 0

// -----

// avg_pool2d: result without ceil_mode
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x5x5xf32> {
  %y = nn.avg_pool2d %x kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1] : (tensor<1x4x8x8xf32>) -> tensor<1x4x5x5xf32>
  func.return %y : tensor<1x4x5x5xf32>
}
// CHECK: nn.avg_pool2d: result has type tensor<1x4x5x5xf32> but the operands and attributes give tensor<1x4x4x4xf32>

// -----

// global_avg_pool: rank < 3
func.func @f(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %y = nn.global_avg_pool %x : (tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
// CHECK: nn.global_avg_pool: input must have at least 3 dimensions but has shape 2x8

// -----

// matmul: scalar operand
func.func @f(%a: tensor<4xf32>, %b: tensor<f32>) -> tensor<4xf32> {
  %y = nn.matmul %a, %b : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: nn.matmul: operands of matmul must have at least one dimension

// -----

// matmul: inner dimensions differ
func.func @f(%a: tensor<4x8xf32>, %b: tensor<7x5xf32>) -> tensor<4x5xf32> {
  %y = nn.matmul %a, %b : (tensor<4x8xf32>, tensor<7x5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK: nn.matmul: lhs has 8 columns but rhs has 7 rows (shapes 4x8 and 7x5)

// -----

// matmul: 1-D operand promoted
func.func @f(%a: tensor<8xf32>, %b: tensor<7x5xf32>) -> tensor<5xf32> {
  %y = nn.matmul %a, %b : (tensor<8xf32>, tensor<7x5xf32>) -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}
// CHECK: nn.matmul: lhs has 8 columns but rhs has 7 rows (shapes 8 and 7x5)

// -----

// matmul: batch dimensions do not broadcast
func.func @f(%a: tensor<2x4x8xf32>, %b: tensor<3x8x5xf32>) -> tensor<3x4x5xf32> {
  %y = nn.matmul %a, %b : (tensor<2x4x8xf32>, tensor<3x8x5xf32>) -> tensor<3x4x5xf32>
  func.return %y : tensor<3x4x5xf32>
}
// CHECK: nn.matmul: batch dimensions of lhs 2x4x8 and rhs 3x8x5 do not broadcast

// -----

// gemm: lhs rank
func.func @f(%a: tensor<2x4x8xf32>, %b: tensor<8x5xf32>, %c: tensor<5xf32>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b bias %c alpha 1.0 beta 1.0 : (tensor<2x4x8xf32>, tensor<8x5xf32>, tensor<5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK: nn.gemm: lhs must be 2-d but has shape 2x4x8

// -----

// gemm: rhs rank
func.func @f(%a: tensor<4x8xf32>, %b: tensor<8xf32>, %c: tensor<5xf32>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b bias %c alpha 1.0 beta 1.0 : (tensor<4x8xf32>, tensor<8xf32>, tensor<5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK: nn.gemm: rhs must be 2-d but has shape 8

// -----

// gemm: K differs
func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>, %c: tensor<5xf32>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b bias %c trans_b alpha 1.0 beta 1.0 : (tensor<4x8xf32>, tensor<8x5xf32>, tensor<5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK: nn.gemm: lhs gives K = 8 but rhs gives K = 5

// -----

// gemm: K differs with trans_a
func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>, %c: tensor<5xf32>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b bias %c trans_a alpha 1.0 beta 1.0 : (tensor<4x8xf32>, tensor<8x5xf32>, tensor<5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK: nn.gemm: lhs gives K = 4 but rhs gives K = 8

// -----

// gemm: bias does not broadcast
func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>, %c: tensor<4xf32>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b bias %c alpha 1.0 beta 1.0 : (tensor<4x8xf32>, tensor<8x5xf32>, tensor<4xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK: nn.gemm: bias of shape 4 does not broadcast to 4x5

// -----

// gemm: bias of rank 3
func.func @f(%a: tensor<4x8xf32>, %b: tensor<8x5xf32>, %c: tensor<1x4x5xf32>) -> tensor<4x5xf32> {
  %y = nn.gemm %a, %b bias %c alpha 1.0 beta 1.0 : (tensor<4x8xf32>, tensor<8x5xf32>, tensor<1x4x5xf32>) -> tensor<4x5xf32>
  func.return %y : tensor<4x5xf32>
}
// CHECK: nn.gemm: bias of shape 1x4x5 does not broadcast to 4x5

// -----

// binary: shapes do not broadcast
func.func @f(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  %y = nn.max %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK: nn.max: operand shapes 2x3 and 4 do not broadcast (dimension -1: 3 vs 4)

// -----

// binary: result of the wrong broadcast shape
func.func @f(%a: tensor<3x1xf32>, %b: tensor<1x4xf32>) -> tensor<3x1xf32> {
  %y = nn.sub %a, %b : (tensor<3x1xf32>, tensor<1x4xf32>) -> tensor<3x1xf32>
  func.return %y : tensor<3x1xf32>
}
// CHECK: nn.sub: result has type tensor<3x1xf32> but the operands and attributes give tensor<3x4xf32>

// -----

// clip: min > max
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = nn.clip %x min 1.0 max 0.0 : tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: nn.clip: min 1.0 is greater than max 0.0

// -----

// softmax: axis out of range
func.func @f(%x: tensor<2x10xf32>) -> tensor<2x10xf32> {
  %y = nn.softmax %x axis 2 : tensor<2x10xf32>
  func.return %y : tensor<2x10xf32>
}
// CHECK: nn.softmax: axis 2 is out of range for rank 2

// -----

// softmax: negative axis out of range
func.func @f(%x: tensor<2x10xf32>) -> tensor<2x10xf32> {
  %y = nn.softmax %x axis -3 : tensor<2x10xf32>
  func.return %y : tensor<2x10xf32>
}
// CHECK: nn.softmax: axis -3 is out of range for rank 2

// -----

// batch_norm: rank < 2
func.func @f(%x: tensor<16xf32>, %s: tensor<16xf32>, %b: tensor<16xf32>, %m: tensor<16xf32>, %v: tensor<16xf32>) -> tensor<16xf32> {
  %y = nn.batch_norm %x, %s, %b, %m, %v epsilon 1.0e-05 : (tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  func.return %y : tensor<16xf32>
}
// CHECK: nn.batch_norm: input must have at least 2 dimensions but has shape 16

// -----

// batch_norm: scale shape
func.func @f(%x: tensor<1x16x4x4xf32>, %s: tensor<8xf32>, %b: tensor<16xf32>, %m: tensor<16xf32>, %v: tensor<16xf32>) -> tensor<1x16x4x4xf32> {
  %y = nn.batch_norm %x, %s, %b, %m, %v epsilon 1.0e-05 : (tensor<1x16x4x4xf32>, tensor<8xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16x4x4xf32>
  func.return %y : tensor<1x16x4x4xf32>
}
// CHECK: nn.batch_norm: scale must have shape 16 (the channels) but has shape 8

// -----

// batch_norm: var shape
func.func @f(%x: tensor<1x16x4x4xf32>, %s: tensor<16xf32>, %b: tensor<16xf32>, %m: tensor<16xf32>, %v: tensor<1x16xf32>) -> tensor<1x16x4x4xf32> {
  %y = nn.batch_norm %x, %s, %b, %m, %v epsilon 1.0e-05 : (tensor<1x16x4x4xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<1x16xf32>) -> tensor<1x16x4x4xf32>
  func.return %y : tensor<1x16x4x4xf32>
}
// CHECK: nn.batch_norm: var must have shape 16 (the channels) but has shape 1x16

// -----

// batch_norm: mean shape (the channels are axis 1)
func.func @f(%x: tensor<2x16xf32>, %s: tensor<16xf32>, %b: tensor<16xf32>, %m: tensor<2xf32>, %v: tensor<16xf32>) -> tensor<2x16xf32> {
  %y = nn.batch_norm %x, %s, %b, %m, %v epsilon 1.0e-05 : (tensor<2x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<2xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  func.return %y : tensor<2x16xf32>
}
// CHECK: nn.batch_norm: mean must have shape 16 (the channels) but has shape 2

// -----

// layer_norm: axis out of range
func.func @f(%x: tensor<2x5x8xf32>, %s: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x5x8xf32> {
  %y = nn.layer_norm %x, %s bias %b axis 3 epsilon 1.0e-05 : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  func.return %y : tensor<2x5x8xf32>
}
// CHECK: nn.layer_norm: axis 3 is out of range for rank 3

// -----

// layer_norm: scale shape
func.func @f(%x: tensor<2x5x8xf32>, %s: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x5x8xf32> {
  %y = nn.layer_norm %x, %s bias %b axis 1 epsilon 1.0e-05 : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  func.return %y : tensor<2x5x8xf32>
}
// CHECK: nn.layer_norm: scale must have shape 5x8 but has shape 8

// -----

// layer_norm: bias shape
func.func @f(%x: tensor<2x5x8xf32>, %s: tensor<8xf32>, %b: tensor<5x8xf32>) -> tensor<2x5x8xf32> {
  %y = nn.layer_norm %x, %s bias %b axis -1 epsilon 1.0e-05 : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<5x8xf32>) -> tensor<2x5x8xf32>
  func.return %y : tensor<2x5x8xf32>
}
// CHECK: nn.layer_norm: bias must have shape 8 but has shape 5x8

// -----

// lrn: rank < 3
func.func @f(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %y = nn.lrn %x size 5 alpha 1.0e-04 beta 0.75 bias 1.0 : (tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
// CHECK: nn.lrn: input must have at least 3 dimensions but has shape 2x8

// -----

// lrn: size < 1
func.func @f(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %y = nn.lrn %x size 0 alpha 1.0e-04 beta 0.75 bias 1.0 : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %y : tensor<1x8x4x4xf32>
}
// CHECK: nn.lrn: size must be >= 1 but found 0

// -----

// reduce: axis out of range
func.func @f(%x: tensor<2x3x4xf32>) -> tensor<2x3x1xf32> {
  %y = nn.reduce sum %x axes [3] keepdims : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>
  func.return %y : tensor<2x3x1xf32>
}
// CHECK: nn.reduce: axes entry 3 is out of range for rank 3

// -----

// reduce: the same axis twice
func.func @f(%x: tensor<2x3x4xf32>) -> tensor<2x4xf32> {
  %y = nn.reduce mean %x axes [1, -2] : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
// CHECK: nn.reduce: axes [1, -2] name the same axis twice

// -----

// reduce: keepdims result without keepdims
func.func @f(%x: tensor<2x3x4xf32>) -> tensor<2x1x4xf32> {
  %y = nn.reduce max %x axes [1] : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  func.return %y : tensor<2x1x4xf32>
}
// CHECK: nn.reduce: result has type tensor<2x1x4xf32> but the operands and attributes give tensor<2x4xf32>

// -----

// concat: no inputs
func.func @f() -> tensor<4xf32> {
  %y = nn.concat axis 0 : () -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: nn.concat: needs at least one input

// -----

// concat: axis out of range
func.func @f(%a: tensor<1x2xf32>, %b: tensor<1x3xf32>) -> tensor<1x5xf32> {
  %y = nn.concat %a, %b axis 2 : (tensor<1x2xf32>, tensor<1x3xf32>) -> tensor<1x5xf32>
  func.return %y : tensor<1x5xf32>
}
// CHECK: nn.concat: axis 2 is out of range for rank 2

// -----

// concat: other dimensions differ
func.func @f(%a: tensor<1x2x4xf32>, %b: tensor<1x3x5xf32>) -> tensor<1x5x4xf32> {
  %y = nn.concat %a, %b axis 1 : (tensor<1x2x4xf32>, tensor<1x3x5xf32>) -> tensor<1x5x4xf32>
  func.return %y : tensor<1x5x4xf32>
}
// CHECK: nn.concat: input 1 has shape 1x3x5 but must match 1x2x4 except on axis 1

// -----

// concat: ranks differ
func.func @f(%a: tensor<2x4xf32>, %b: tensor<4xf32>) -> tensor<3x4xf32> {
  %y = nn.concat %a, %b axis -2 : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}
// CHECK: nn.concat: input 1 has shape 4 but must match 2x4 except on axis 0

// -----

// split: axis out of range
func.func @f(%x: tensor<2x10xf32>) {
  %0, %1 = nn.split %x axis 2 sizes [3, 7] : (tensor<2x10xf32>) -> (tensor<2x3xf32>, tensor<2x7xf32>)
  func.return
}
// CHECK: nn.split: axis 2 is out of range for rank 2

// -----

// split: a size < 1
func.func @f(%x: tensor<2x10xf32>) {
  %0, %1 = nn.split %x axis 1 sizes [0, 10] : (tensor<2x10xf32>) -> (tensor<2x0xf32>, tensor<2x10xf32>)
  func.return
}
// CHECK: nn.split: result 0 has type tensor<2x0xf32> but nn ops need static shapes with dimensions >= 1

// -----

// split: sizes do not add up
func.func @f(%x: tensor<2x10xf32>) {
  %0, %1 = nn.split %x axis -1 sizes [3, 5] : (tensor<2x10xf32>) -> (tensor<2x3xf32>, tensor<2x5xf32>)
  func.return
}
// CHECK: nn.split: sizes [3, 5] add up to 8 but axis 1 has 10

// -----

// split: number of sizes and of results differ
func.func @f(%x: tensor<2x10xf32>) {
  %0, %1, %2 = nn.split %x axis 1 sizes [3, 7] : (tensor<2x10xf32>) -> (tensor<2x3xf32>, tensor<2x7xf32>, tensor<2x1xf32>)
  func.return
}
// CHECK: nn.split: sizes has 2 entries but the op has 3 results

// -----

// reshape: element counts differ
func.func @f(%x: tensor<2x3x4xf32>) -> tensor<5x5xf32> {
  %y = nn.reshape %x : (tensor<2x3x4xf32>) -> tensor<5x5xf32>
  func.return %y : tensor<5x5xf32>
}
// CHECK: nn.reshape: input 2x3x4 has 24 elements but result 5x5 has 25

// -----

// flatten: axis > rank
func.func @f(%x: tensor<2x3x4x5xf32>) -> tensor<2x60xf32> {
  %y = nn.flatten %x axis 5 : (tensor<2x3x4x5xf32>) -> tensor<2x60xf32>
  func.return %y : tensor<2x60xf32>
}
// CHECK: nn.flatten: axis 5 is out of range for rank 4

// -----

// flatten: axis < -rank
func.func @f(%x: tensor<2x3x4x5xf32>) -> tensor<2x60xf32> {
  %y = nn.flatten %x axis -5 : (tensor<2x3x4x5xf32>) -> tensor<2x60xf32>
  func.return %y : tensor<2x60xf32>
}
// CHECK: nn.flatten: axis -5 is out of range for rank 4

// -----

// transpose: repeated axis
func.func @f(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %y = nn.transpose %x perm [2, 0, 0] : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  func.return %y : tensor<4x2x3xf32>
}
// CHECK: nn.transpose: perm [2, 0, 0] is not a permutation of 0..2

// -----

// transpose: perm too short
func.func @f(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %y = nn.transpose %x perm [1, 0] : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  func.return %y : tensor<4x2x3xf32>
}
// CHECK: nn.transpose: perm [1, 0] is not a permutation of 0..2

// -----

// pad: pads count
func.func @f(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x6x6xf32> {
  %y = nn.pad %x pads [1, 1, 1, 1] mode constant value 0.0 : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x6xf32>
  func.return %y : tensor<1x3x6x6xf32>
}
// CHECK: nn.pad: pads has 4 entries but 8 are expected

// -----

// pad: negative pad
func.func @f(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x6x6xf32> {
  %y = nn.pad %x pads [0, 0, 1, 1, 0, 0, 1, -1] mode edge value 0.0 : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x6xf32>
  func.return %y : tensor<1x3x6x6xf32>
}
// CHECK: nn.pad: pads entries must be >= 0 but found -1

// -----

// pad: reflect pad as large as the axis
func.func @f(%x: tensor<1x3x4x4xf32>) -> tensor<1x3x6x6xf32> {
  %y = nn.pad %x pads [0, 0, 1, 4, 0, 0, 1, 0] mode reflect value 0.0 : (tensor<1x3x4x4xf32>) -> tensor<1x3x6x6xf32>
  func.return %y : tensor<1x3x6x6xf32>
}
// CHECK: nn.pad: reflect pads on axis 3 must be smaller than its size 4

// -----

// pad: integer input (pad is a float op)
func.func @f(%x: tensor<4xi64>) -> tensor<6xi64> {
  %y = nn.pad %x pads [1, 1] mode constant value 0.0 : (tensor<4xi64>) -> tensor<6xi64>
  func.return %y : tensor<6xi64>
}
// CHECK: nn.pad: input must have element type f32 or f16 but has i64

// -----

// gather: float indices
func.func @f(%d: tensor<1000x64xf32>, %i: tensor<2xf32>) -> tensor<2x64xf32> {
  %y = nn.gather %d, %i axis 0 : (tensor<1000x64xf32>, tensor<2xf32>) -> tensor<2x64xf32>
  func.return %y : tensor<2x64xf32>
}
// CHECK: nn.gather: indices must have element type i32 or i64 but has f32

// -----

// gather: index indices
func.func @f(%d: tensor<1000x64xf32>, %i: tensor<2xindex>) -> tensor<2x64xf32> {
  %y = nn.gather %d, %i axis 0 : (tensor<1000x64xf32>, tensor<2xindex>) -> tensor<2x64xf32>
  func.return %y : tensor<2x64xf32>
}
// CHECK: nn.gather: indices must have element type i32 or i64 but has index

// -----

// gather: axis out of range
func.func @f(%d: tensor<1000x64xf32>, %i: tensor<2xi64>) -> tensor<2x64xf32> {
  %y = nn.gather %d, %i axis 2 : (tensor<1000x64xf32>, tensor<2xi64>) -> tensor<2x64xf32>
  func.return %y : tensor<2x64xf32>
}
// CHECK: nn.gather: axis 2 is out of range for rank 2

// -----

// gather: data must be f32, f16 or an integer
func.func @f(%d: tensor<1000x64xf64>, %i: tensor<2xi64>) -> tensor<2x64xf32> {
  %y = nn.gather %d, %i axis 0 : (tensor<1000x64xf64>, tensor<2xi64>) -> tensor<2x64xf32>
  func.return %y : tensor<2x64xf32>
}
// CHECK: nn.gather: data must have element type f32, f16, i32 or i64 but has f64

// -----

// lstm: input rank
func.func @f(%x: tensor<5x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x16xf32>, %b: tensor<1x128xf32>, %h0: tensor<1x2x16xf32>, %c0: tensor<1x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> bias %b : tensor<1x128xf32> initial_h %h0 : tensor<1x2x16xf32> initial_c %c0 : tensor<1x2x16xf32>) hidden_size 16 direction forward -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.lstm: input must be 3-d but has shape 5x8

// -----

// lstm: hidden_size < 1
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x16xf32>, %b: tensor<1x128xf32>, %h0: tensor<1x2x16xf32>, %c0: tensor<1x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> bias %b : tensor<1x128xf32> initial_h %h0 : tensor<1x2x16xf32> initial_c %c0 : tensor<1x2x16xf32>) hidden_size 0 direction forward -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.lstm: hidden_size must be >= 1 but found 0

// -----

// lstm: weight shape (GRU-sized)
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x48x8xf32>, %r: tensor<1x64x16xf32>, %b: tensor<1x128xf32>, %h0: tensor<1x2x16xf32>, %c0: tensor<1x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x48x8xf32>, %r : tensor<1x64x16xf32> bias %b : tensor<1x128xf32> initial_h %h0 : tensor<1x2x16xf32> initial_c %c0 : tensor<1x2x16xf32>) hidden_size 16 direction forward -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.lstm: weight must have shape 1x64x8 but has shape 1x48x8

// -----

// lstm: recurrence shape
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x8xf32>, %b: tensor<1x128xf32>, %h0: tensor<1x2x16xf32>, %c0: tensor<1x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x8xf32> bias %b : tensor<1x128xf32> initial_h %h0 : tensor<1x2x16xf32> initial_c %c0 : tensor<1x2x16xf32>) hidden_size 16 direction forward -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.lstm: recurrence must have shape 1x64x16 but has shape 1x64x8

// -----

// lstm: bias shape
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x16xf32>, %b: tensor<1x64xf32>, %h0: tensor<1x2x16xf32>, %c0: tensor<1x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> bias %b : tensor<1x64xf32> initial_h %h0 : tensor<1x2x16xf32> initial_c %c0 : tensor<1x2x16xf32>) hidden_size 16 direction forward -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.lstm: bias must have shape 1x128 but has shape 1x64

// -----

// lstm: initial_h shape for bidirectional
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<2x64x8xf32>, %r: tensor<2x64x16xf32>, %b: tensor<2x128xf32>, %h0: tensor<1x2x16xf32>, %c0: tensor<2x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<2x64x8xf32>, %r : tensor<2x64x16xf32> bias %b : tensor<2x128xf32> initial_h %h0 : tensor<1x2x16xf32> initial_c %c0 : tensor<2x2x16xf32>) hidden_size 16 direction bidirectional -> (tensor<5x2x2x16xf32>, tensor<2x2x16xf32>, tensor<2x2x16xf32>)
  func.return
}
// CHECK: nn.lstm: initial_h must have shape 2x2x16 but has shape 1x2x16

// -----

// lstm: initial_c shape
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x16xf32>, %b: tensor<1x128xf32>, %h0: tensor<1x2x16xf32>, %c0: tensor<1x3x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> bias %b : tensor<1x128xf32> initial_h %h0 : tensor<1x2x16xf32> initial_c %c0 : tensor<1x3x16xf32>) hidden_size 16 direction forward -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.lstm: initial_c must have shape 1x2x16 but has shape 1x3x16

// -----

// lstm: wrong y_c result
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x16xf32>, %b: tensor<1x128xf32>, %h0: tensor<1x2x16xf32>, %c0: tensor<1x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> bias %b : tensor<1x128xf32> initial_h %h0 : tensor<1x2x16xf32> initial_c %c0 : tensor<1x2x16xf32>) hidden_size 16 direction forward -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x8xf32>)
  func.return
}
// CHECK: nn.lstm: result 2 has type tensor<1x2x8xf32> but the operands and attributes give tensor<1x2x16xf32>

// -----

// lstm: y without the directions axis
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x64x16xf32>, %b: tensor<1x128xf32>, %h0: tensor<1x2x16xf32>, %c0: tensor<1x2x16xf32>) {
  %y, %h, %c = nn.lstm(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x64x16xf32> bias %b : tensor<1x128xf32> initial_h %h0 : tensor<1x2x16xf32> initial_c %c0 : tensor<1x2x16xf32>) hidden_size 16 direction forward -> (tensor<5x2x16xf32>, tensor<1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.lstm: result 0 has type tensor<5x2x16xf32> but the operands and attributes give tensor<5x1x2x16xf32>

// -----

// gru: hidden_size < 1
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x48x8xf32>, %r: tensor<1x48x16xf32>) {
  %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<1x48x8xf32>, %r : tensor<1x48x16xf32>) hidden_size -1 direction forward linear_before_reset -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.gru: hidden_size must be >= 1 but found -1

// -----

// gru: weight shape (LSTM-sized)
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x64x8xf32>, %r: tensor<1x48x16xf32>) {
  %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<1x64x8xf32>, %r : tensor<1x48x16xf32>) hidden_size 16 direction forward linear_before_reset -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.gru: weight must have shape 1x48x8 but has shape 1x64x8

// -----

// gru: weight without the directions axis for reverse
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<48x8xf32>, %r: tensor<1x48x16xf32>) {
  %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<48x8xf32>, %r : tensor<1x48x16xf32>) hidden_size 16 direction reverse linear_before_reset -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.gru: weight must have shape 1x48x8 but has shape 48x8

// -----

// gru: recurrence element type
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x48x8xf32>, %r: tensor<1x48x16xf16>) {
  %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<1x48x8xf32>, %r : tensor<1x48x16xf16>) hidden_size 16 direction forward linear_before_reset -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.gru: recurrence has element type f16 but input has f32

// -----

// gru: wrong y_h result
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x48x8xf32>, %r: tensor<1x48x16xf32>) {
  %y, %h = nn.gru(%x : tensor<5x2x8xf32>, %w : tensor<1x48x8xf32>, %r : tensor<1x48x16xf32>) hidden_size 16 direction forward linear_before_reset -> (tensor<5x1x2x16xf32>, tensor<2x2x16xf32>)
  func.return
}
// CHECK: nn.gru: result 1 has type tensor<2x2x16xf32> but the operands and attributes give tensor<1x2x16xf32>

// -----

// gru: bias shape (generic form)
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x48x8xf32>, %r: tensor<1x48x16xf32>, %b: tensor<1x48xf32>) {
  %y, %h = "nn.gru"(%x, %w, %r, %b) <{hidden_size = 16 : i64, direction = #nn<rnn_direction forward>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>}> : (tensor<5x2x8xf32>, tensor<1x48x8xf32>, tensor<1x48x16xf32>, tensor<1x48xf32>) -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.gru: bias must have shape 1x96 but has shape 1x48

// -----

// gru: initial_h shape, without bias (generic form)
func.func @f(%x: tensor<5x2x8xf32>, %w: tensor<1x48x8xf32>, %r: tensor<1x48x16xf32>, %h0: tensor<1x16xf32>) {
  %y, %h = "nn.gru"(%x, %w, %r, %h0) <{hidden_size = 16 : i64, direction = #nn<rnn_direction forward>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1>}> : (tensor<5x2x8xf32>, tensor<1x48x8xf32>, tensor<1x48x16xf32>, tensor<1x16xf32>) -> (tensor<5x1x2x16xf32>, tensor<1x2x16xf32>)
  func.return
}
// CHECK: nn.gru: initial_h must have shape 1x2x16 but has shape 1x16

// -----

// a property written in the attribute dictionary would be silently ignored
func.func @f(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %y = nn.max_pool2d %x kernel [2, 2] strides [2, 2] pads [0, 0, 0, 0] dilations [1, 1] {ceil_mode} : (tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32>
  func.return %y : tensor<1x4x4x4xf32>
}
// CHECK: nn.max_pool2d: 'ceil_mode' is a property of the op; written in the attribute dictionary it would be ignored

// -----

// nn.constant: element type outside f32, f16, i32, i64
func.func @f() -> tensor<2xf64> {
  %c = nn.constant dense<[1.0, 2.0]> : tensor<2xf64>
  func.return %c : tensor<2xf64>
}
// CHECK: nn.constant: element type must be f32, f16, i32 or i64 but is f64

// -----

// nn.weight: dynamic shape
func.func @f() -> tensor<?x4xf32> {
  %w = nn.weight "w" : tensor<?x4xf32>
  func.return %w : tensor<?x4xf32>
}
// CHECK: nn.weight: result 0 has type tensor<?x4xf32> but nn ops need static shapes with dimensions >= 1
