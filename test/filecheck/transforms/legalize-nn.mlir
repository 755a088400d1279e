// legalize-nn: the gemm and matmul variants the matrix engine does not lower become 2-D
// products (matmul, or gemm without trans_a, alpha = beta = 1 and a per-column bias)
// plus transposes, reshapes (views), splits, concats and elementwise ops; every new op is
// named after the layer. A matmul needing more than max-products products stays whole.
// RUN: rapid-opt %s --split-input-file -p legalize-nn | filecheck %s
// RUN: rapid-opt %s --split-input-file -p 'legalize-nn{max-products=2}' | filecheck %s --check-prefix=LIMIT

// trans_a: a transpose of A feeds the gemm; trans_b and the per-column bias stay on it.
// CHECK-LABEL: func.func @gemm_trans_a
// CHECK-NEXT: %fc_lhs_t = nn.transpose %a perm [1, 0] {nn.name = "fc.lhs_t"} : (tensor<8x5xf32>) -> tensor<5x8xf32>
// CHECK-NEXT: %fc = nn.gemm %fc_lhs_t, %b bias %c trans_b alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"} : (tensor<5x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<5x4xf32>
// CHECK-NEXT: func.return %fc : tensor<5x4xf32>
func.func @gemm_trans_a(%a: tensor<8x5xf32>, %b: tensor<4x8xf32>, %c: tensor<4xf32>) -> tensor<5x4xf32> {
  %y = nn.gemm %a, %b bias %c trans_a trans_b alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"} : (tensor<8x5xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<5x4xf32>
  func.return %y : tensor<5x4xf32>
}

// -----

// alpha scales the smallest of A (2x16), B (16x32) and the product (2x32): here A, so
// the per-column bias stays fused.
// CHECK-LABEL: func.func @gemm_alpha_lhs
// CHECK-NEXT: %fc_alpha = nn.constant dense<2.500000e-01> : tensor<f32> {nn.name = "fc.alpha"}
// CHECK-NEXT: %fc_lhs_scaled = nn.mul %a, %fc_alpha {nn.name = "fc.lhs_scaled"} : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
// CHECK-NEXT: %fc = nn.gemm %fc_lhs_scaled, %b bias %c alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"}
// CHECK-NEXT: func.return %fc
func.func @gemm_alpha_lhs(%a: tensor<2x16xf32>, %b: tensor<16x32xf32>, %c: tensor<1x32xf32>) -> tensor<2x32xf32> {
  %y = nn.gemm %a, %b bias %c alpha 2.500000e-01 beta 1.000000e+00 {nn.name = "fc"} : (tensor<2x16xf32>, tensor<16x32xf32>, tensor<1x32xf32>) -> tensor<2x32xf32>
  func.return %y : tensor<2x32xf32>
}

// -----

// CHECK-LABEL: func.func @gemm_alpha_rhs
// CHECK-NEXT: %fc_alpha = nn.constant dense<2.500000e-01> : tensor<f32> {nn.name = "fc.alpha"}
// CHECK-NEXT: %fc_rhs_scaled = nn.mul %b, %fc_alpha {nn.name = "fc.rhs_scaled"} : (tensor<8x16xf32>, tensor<f32>) -> tensor<8x16xf32>
// CHECK-NEXT: %fc = nn.gemm %a, %fc_rhs_scaled trans_b alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"}
// CHECK-NEXT: func.return %fc
func.func @gemm_alpha_rhs(%a: tensor<64x16xf32>, %b: tensor<8x16xf32>) -> tensor<64x8xf32> {
  %y = nn.gemm %a, %b trans_b alpha 2.500000e-01 beta 1.000000e+00 {nn.name = "fc"} : (tensor<64x16xf32>, tensor<8x16xf32>) -> tensor<64x8xf32>
  func.return %y : tensor<64x8xf32>
}

// -----

// Everything at once: A transposed, beta times C, the product (5x4) the smallest to
// scale, and a [m, 1] bias added with broadcasting.
// CHECK-LABEL: func.func @gemm_alpha_product
// CHECK-NEXT: %fc_lhs_t = nn.transpose %a perm [1, 0] {nn.name = "fc.lhs_t"}
// CHECK-NEXT: %fc_beta = nn.constant dense<2.000000e+00> : tensor<f32> {nn.name = "fc.beta"}
// CHECK-NEXT: %fc_bias_scaled = nn.mul %c, %fc_beta {nn.name = "fc.bias_scaled"} : (tensor<5x1xf32>, tensor<f32>) -> tensor<5x1xf32>
// CHECK-NEXT: %fc_alpha = nn.constant dense<5.000000e-01> : tensor<f32> {nn.name = "fc.alpha"}
// CHECK-NEXT: %fc = nn.gemm %fc_lhs_t, %b trans_b alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"} : (tensor<5x8xf32>, tensor<4x8xf32>) -> tensor<5x4xf32>
// CHECK-NEXT: %fc_scaled = nn.mul %fc, %fc_alpha {nn.name = "fc.scaled"} : (tensor<5x4xf32>, tensor<f32>) -> tensor<5x4xf32>
// CHECK-NEXT: %fc_bias = nn.add %fc_scaled, %fc_bias_scaled {nn.name = "fc.bias"} : (tensor<5x4xf32>, tensor<5x1xf32>) -> tensor<5x4xf32>
// CHECK-NEXT: func.return %fc_bias : tensor<5x4xf32>
func.func @gemm_alpha_product(%a: tensor<8x5xf32>, %b: tensor<4x8xf32>, %c: tensor<5x1xf32>) -> tensor<5x4xf32> {
  %y = nn.gemm %a, %b bias %c trans_a trans_b alpha 5.000000e-01 beta 2.000000e+00 {nn.name = "fc"} : (tensor<8x5xf32>, tensor<4x8xf32>, tensor<5x1xf32>) -> tensor<5x4xf32>
  func.return %y : tensor<5x4xf32>
}

// -----

// beta scales a per-column bias, which stays fused; the constant has the layer's f16 type.
// CHECK-LABEL: func.func @gemm_beta
// CHECK-NEXT: %fc_beta = nn.constant dense<5.000000e-01> : tensor<f16> {nn.name = "fc.beta"}
// CHECK-NEXT: %fc_bias_scaled = nn.mul %c, %fc_beta {nn.name = "fc.bias_scaled"} : (tensor<4xf16>, tensor<f16>) -> tensor<4xf16>
// CHECK-NEXT: %fc = nn.gemm %a, %b bias %fc_bias_scaled alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"}
// CHECK-NEXT: func.return %fc
func.func @gemm_beta(%a: tensor<3x6xf16>, %b: tensor<6x4xf16>, %c: tensor<4xf16>) -> tensor<3x4xf16> {
  %y = nn.gemm %a, %b bias %c alpha 1.000000e+00 beta 5.000000e-01 {nn.name = "fc"} : (tensor<3x6xf16>, tensor<6x4xf16>, tensor<4xf16>) -> tensor<3x4xf16>
  func.return %y : tensor<3x4xf16>
}

// -----

// beta = 0 drops C.
// CHECK-LABEL: func.func @gemm_beta_zero
// CHECK-NEXT: %fc = nn.gemm %a, %b alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"} : (tensor<3x6xf32>, tensor<6x4xf32>) -> tensor<3x4xf32>
// CHECK-NEXT: func.return %fc
func.func @gemm_beta_zero(%a: tensor<3x6xf32>, %b: tensor<6x4xf32>, %c: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %y = nn.gemm %a, %b bias %c alpha 1.000000e+00 beta 0.000000e+00 {nn.name = "fc"} : (tensor<3x6xf32>, tensor<6x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}

// -----

// A bias that is not one value per column: the gemm without it, then an add.
// CHECK-LABEL: func.func @gemm_bias_full
// CHECK-NEXT: %fc = nn.gemm %a, %b alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"} : (tensor<3x6xf32>, tensor<6x4xf32>) -> tensor<3x4xf32>
// CHECK-NEXT: %fc_bias = nn.add %fc, %c {nn.name = "fc.bias"} : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
// CHECK-NEXT: func.return %fc_bias
func.func @gemm_bias_full(%a: tensor<3x6xf32>, %b: tensor<6x4xf32>, %c: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %y = nn.gemm %a, %b bias %c alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "fc"} : (tensor<3x6xf32>, tensor<6x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}

// -----

// 1-D operands: a row on the left, a column on the right, the added dims removed again.
// CHECK-LABEL: func.func @vectors
// CHECK-NEXT: %dot_lhs = nn.reshape %a {nn.name = "dot.lhs"} : (tensor<6xf32>) -> tensor<1x6xf32>
// CHECK-NEXT: %dot_rhs = nn.reshape %b {nn.name = "dot.rhs"} : (tensor<6xf32>) -> tensor<6x1xf32>
// CHECK-NEXT: %dot = nn.matmul %dot_lhs, %dot_rhs {nn.name = "dot"} : (tensor<1x6xf32>, tensor<6x1xf32>) -> tensor<1x1xf32>
// CHECK-NEXT: %dot_out = nn.reshape %dot {nn.name = "dot.out"} : (tensor<1x1xf32>) -> tensor<f32>
// CHECK-NEXT: %row_lhs = nn.reshape %a {nn.name = "row.lhs"} : (tensor<6xf32>) -> tensor<1x6xf32>
// CHECK-NEXT: %row = nn.matmul %row_lhs, %m {nn.name = "row"} : (tensor<1x6xf32>, tensor<6x4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT: %row_out = nn.reshape %row {nn.name = "row.out"} : (tensor<1x4xf32>) -> tensor<4xf32>
// CHECK-NEXT: %col_rhs = nn.reshape %b {nn.name = "col.rhs"} : (tensor<6xf32>) -> tensor<6x1xf32>
// CHECK-NEXT: %col = nn.matmul %n, %col_rhs {nn.name = "col"} : (tensor<3x6xf32>, tensor<6x1xf32>) -> tensor<3x1xf32>
// CHECK-NEXT: %col_out = nn.reshape %col {nn.name = "col.out"} : (tensor<3x1xf32>) -> tensor<3xf32>
// CHECK-NEXT: func.return %dot_out, %row_out, %col_out
func.func @vectors(%a: tensor<6xf32>, %b: tensor<6xf32>, %m: tensor<6x4xf32>, %n: tensor<3x6xf32>) -> (tensor<f32>, tensor<4xf32>, tensor<3xf32>) {
  %dot = nn.matmul %a, %b {nn.name = "dot"} : (tensor<6xf32>, tensor<6xf32>) -> tensor<f32>
  %row = nn.matmul %a, %m {nn.name = "row"} : (tensor<6xf32>, tensor<6x4xf32>) -> tensor<4xf32>
  %col = nn.matmul %n, %b {nn.name = "col"} : (tensor<3x6xf32>, tensor<6xf32>) -> tensor<3xf32>
  func.return %dot, %row, %col : tensor<f32>, tensor<4xf32>, tensor<3xf32>
}

// -----

// N-D x 2-D (a transformer's projection): the batch dims fold into the rows.
// CHECK-LABEL: func.func @projection
// CHECK-NEXT: %q_proj_lhs = nn.reshape %x {nn.name = "q_proj.lhs"} : (tensor<2x3x8xf32>) -> tensor<6x8xf32>
// CHECK-NEXT: %q_proj = nn.matmul %q_proj_lhs, %w {nn.name = "q_proj"} : (tensor<6x8xf32>, tensor<8x5xf32>) -> tensor<6x5xf32>
// CHECK-NEXT: %q_proj_out = nn.reshape %q_proj {nn.name = "q_proj.out"} : (tensor<6x5xf32>) -> tensor<2x3x5xf32>
// CHECK-NEXT: func.return %q_proj_out
func.func @projection(%x: tensor<2x3x8xf32>, %w: tensor<8x5xf32>) -> tensor<2x3x5xf32> {
  %y = nn.matmul %x, %w {nn.name = "q_proj"} : (tensor<2x3x8xf32>, tensor<8x5xf32>) -> tensor<2x3x5xf32>
  func.return %y : tensor<2x3x5xf32>
}

// -----

// Attention scores, both operands batched: split into per-batch matrices, one product
// per batch element, concat and a view of the result's shape.
// CHECK-LABEL: func.func @attention
// CHECK-NEXT: %attn_scores_lhs = nn.reshape %q {nn.name = "attn.scores.lhs"} : (tensor<1x2x3x4xf32>) -> tensor<6x4xf32>
// CHECK-NEXT: %attn_scores_rhs = nn.reshape %k {nn.name = "attn.scores.rhs"} : (tensor<1x2x4x3xf32>) -> tensor<8x3xf32>
// CHECK-NEXT: %attn_scores_lhs_b0, %attn_scores_lhs_b1 = nn.split %attn_scores_lhs axis 0 sizes [3, 3] {nn.name = "attn.scores.lhs.split"}
// CHECK-NEXT: %attn_scores_rhs_b0, %attn_scores_rhs_b1 = nn.split %attn_scores_rhs axis 0 sizes [4, 4] {nn.name = "attn.scores.rhs.split"}
// CHECK-NEXT: %attn_scores_b0 = nn.matmul %attn_scores_lhs_b0, %attn_scores_rhs_b0 {nn.name = "attn.scores.b0"} : (tensor<3x4xf32>, tensor<4x3xf32>) -> tensor<3x3xf32>
// CHECK-NEXT: %attn_scores_b1 = nn.matmul %attn_scores_lhs_b1, %attn_scores_rhs_b1 {nn.name = "attn.scores.b1"}
// CHECK-NEXT: %attn_scores_concat = nn.concat %attn_scores_b0, %attn_scores_b1 axis 0 {nn.name = "attn.scores.concat"} : (tensor<3x3xf32>, tensor<3x3xf32>) -> tensor<6x3xf32>
// CHECK-NEXT: %attn_scores_out = nn.reshape %attn_scores_concat {nn.name = "attn.scores.out"} : (tensor<6x3xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT: func.return %attn_scores_out

// LIMIT-LABEL: func.func @attention
// LIMIT: nn.matmul %{{.*}}, %{{.*}} {nn.name = "attn.scores.b1"}
func.func @attention(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32> {
  %s = nn.matmul %q, %k {nn.name = "attn.scores"} : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  func.return %s : tensor<1x2x3x3xf32>
}

// -----

// Broadcast batch dims: [2, 1] x [3] is 6 products, b(3i + j) pairing lhs slice i with
// rhs slice j; a 2-D lhs is one matrix shared by every product. With max-products=2
// both stay whole (host fallback).
// CHECK-LABEL: func.func @broadcast
// CHECK-NEXT: %bc_lhs = nn.reshape %a {nn.name = "bc.lhs"} : (tensor<2x1x5x6xf32>) -> tensor<10x6xf32>
// CHECK-NEXT: %bc_rhs = nn.reshape %b {nn.name = "bc.rhs"} : (tensor<3x6x4xf32>) -> tensor<18x4xf32>
// CHECK-NEXT: %bc_lhs_b0, %bc_lhs_b1 = nn.split %bc_lhs axis 0 sizes [5, 5] {nn.name = "bc.lhs.split"}
// CHECK-NEXT: %bc_rhs_b0, %bc_rhs_b1, %bc_rhs_b2 = nn.split %bc_rhs axis 0 sizes [6, 6, 6] {nn.name = "bc.rhs.split"}
// CHECK-NEXT: %bc_b0 = nn.matmul %bc_lhs_b0, %bc_rhs_b0 {nn.name = "bc.b0"}
// CHECK-NEXT: %bc_b1 = nn.matmul %bc_lhs_b0, %bc_rhs_b1 {nn.name = "bc.b1"}
// CHECK-NEXT: %bc_b2 = nn.matmul %bc_lhs_b0, %bc_rhs_b2 {nn.name = "bc.b2"}
// CHECK-NEXT: %bc_b3 = nn.matmul %bc_lhs_b1, %bc_rhs_b0 {nn.name = "bc.b3"}
// CHECK-NEXT: %bc_b4 = nn.matmul %bc_lhs_b1, %bc_rhs_b1 {nn.name = "bc.b4"}
// CHECK-NEXT: %bc_b5 = nn.matmul %bc_lhs_b1, %bc_rhs_b2 {nn.name = "bc.b5"}
// CHECK-NEXT: %bc_concat = nn.concat %bc_b0, %bc_b1, %bc_b2, %bc_b3, %bc_b4, %bc_b5 axis 0 {nn.name = "bc.concat"} : ({{.*}}) -> tensor<30x4xf32>
// CHECK-NEXT: %bc_out = nn.reshape %bc_concat {nn.name = "bc.out"} : (tensor<30x4xf32>) -> tensor<2x3x5x4xf32>
// CHECK-NEXT: %shared_rhs = nn.reshape %b {nn.name = "shared.rhs"}
// CHECK-NEXT: %shared_rhs_b0, %shared_rhs_b1, %shared_rhs_b2 = nn.split %shared_rhs axis 0 sizes [6, 6, 6] {nn.name = "shared.rhs.split"}
// CHECK-NEXT: %shared_b0 = nn.matmul %m, %shared_rhs_b0 {nn.name = "shared.b0"}
// CHECK-NEXT: %shared_b1 = nn.matmul %m, %shared_rhs_b1 {nn.name = "shared.b1"}
// CHECK-NEXT: %shared_b2 = nn.matmul %m, %shared_rhs_b2 {nn.name = "shared.b2"}
// CHECK-NEXT: %shared_concat = nn.concat %shared_b0, %shared_b1, %shared_b2 axis 0 {nn.name = "shared.concat"}
// CHECK-NEXT: %shared_out = nn.reshape %shared_concat {nn.name = "shared.out"} : (tensor<15x4xf32>) -> tensor<3x5x4xf32>
// CHECK-NEXT: func.return %bc_out, %shared_out

// LIMIT-LABEL: func.func @broadcast
// LIMIT-NEXT: %y = nn.matmul %a, %b {nn.name = "bc"} : (tensor<2x1x5x6xf32>, tensor<3x6x4xf32>) -> tensor<2x3x5x4xf32>
// LIMIT-NEXT: %z = nn.matmul %m, %b {nn.name = "shared"} : (tensor<5x6xf32>, tensor<3x6x4xf32>) -> tensor<3x5x4xf32>
// LIMIT-NEXT: func.return %y, %z
func.func @broadcast(%a: tensor<2x1x5x6xf32>, %b: tensor<3x6x4xf32>, %m: tensor<5x6xf32>) -> (tensor<2x3x5x4xf32>, tensor<3x5x4xf32>) {
  %y = nn.matmul %a, %b {nn.name = "bc"} : (tensor<2x1x5x6xf32>, tensor<3x6x4xf32>) -> tensor<2x3x5x4xf32>
  %z = nn.matmul %m, %b {nn.name = "shared"} : (tensor<5x6xf32>, tensor<3x6x4xf32>) -> tensor<3x5x4xf32>
  func.return %y, %z : tensor<2x3x5x4xf32>, tensor<3x5x4xf32>
}

// -----

// Unnamed products keep the names convert-nn-to-tile would generate (the replaced
// matmul_0 must not shift matmul_1's); a product marked nn.host stays as it is.
// CHECK-LABEL: func.func @unnamed
// CHECK-NEXT: %matmul_0_lhs = nn.reshape %a {nn.name = "matmul_0.lhs"}
// CHECK-NEXT: %{{.*}} = nn.matmul %matmul_0_lhs, %b {nn.name = "matmul_0"}
// CHECK-NEXT: %matmul_0_out = nn.reshape %{{.*}} {nn.name = "matmul_0.out"}
// CHECK-NEXT: %z = nn.matmul %m, %b {nn.name = "matmul_1"} : (tensor<5x6xf32>, tensor<6x4xf32>) -> tensor<5x4xf32>
// CHECK-NEXT: %h = nn.matmul %a, %n {nn.host, nn.name = "matmul_2"} : (tensor<2x5x6xf32>, tensor<2x6x4xf32>) -> tensor<2x5x4xf32>
// CHECK-NEXT: func.return %matmul_0_out, %z, %h
func.func @unnamed(%a: tensor<2x5x6xf32>, %b: tensor<6x4xf32>, %m: tensor<5x6xf32>, %n: tensor<2x6x4xf32>) -> (tensor<2x5x4xf32>, tensor<5x4xf32>, tensor<2x5x4xf32>) {
  %y = nn.matmul %a, %b : (tensor<2x5x6xf32>, tensor<6x4xf32>) -> tensor<2x5x4xf32>
  %z = nn.matmul %m, %b : (tensor<5x6xf32>, tensor<6x4xf32>) -> tensor<5x4xf32>
  %h = nn.matmul %a, %n {nn.host} : (tensor<2x5x6xf32>, tensor<2x6x4xf32>) -> tensor<2x5x4xf32>
  func.return %y, %z, %h : tensor<2x5x4xf32>, tensor<5x4xf32>, tensor<2x5x4xf32>
}

// -----

// What the device lowers already is left untouched (and unnamed).
// CHECK-LABEL: func.func @legal
// CHECK-NEXT: %y = nn.gemm %a, %w bias %c trans_b alpha 1.000000e+00 beta 1.000000e+00 : (tensor<3x6xf32>, tensor<4x6xf32>, tensor<4xf32>) -> tensor<3x4xf32>
// CHECK-NEXT: func.return %y
func.func @legal(%a: tensor<3x6xf32>, %w: tensor<4x6xf32>, %c: tensor<4xf32>) -> tensor<3x4xf32> {
  %y = nn.gemm %a, %w bias %c trans_b alpha 1.000000e+00 beta 1.000000e+00 : (tensor<3x6xf32>, tensor<4x6xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  func.return %y : tensor<3x4xf32>
}

// -----

// Every result gets a buffer of its own: a result that is an argument (or a view of one),
// or that shares its data with an earlier result, becomes a one-input concat (a copy),
// reshaped around it for a scalar.
// CHECK-LABEL: func.func @results
// CHECK-NEXT: %v = nn.reshape %x
// CHECK-NEXT: %logits_copy = nn.concat %x axis 0 {nn.name = "logits.copy"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: %output1_copy = nn.concat %v axis 0 {nn.name = "output1.copy"} : (tensor<6xf32>) -> tensor<6xf32>
// CHECK-NEXT: %output2_copy_in = nn.reshape %s {nn.name = "output2.copy_in"} : (tensor<f32>) -> tensor<1xf32>
// CHECK-NEXT: %output2_copy = nn.concat %output2_copy_in axis 0 {nn.name = "output2.copy"} : (tensor<1xf32>) -> tensor<1xf32>
// CHECK-NEXT: %output2_copy_out = nn.reshape %output2_copy {nn.name = "output2.copy_out"} : (tensor<1xf32>) -> tensor<f32>
// CHECK-NEXT: func.return %logits_copy, %output1_copy, %output2_copy_out
func.func @results(%x: tensor<2x3xf32>, %s: tensor<f32>) -> (tensor<2x3xf32> {nn.name = "logits"}, tensor<6xf32>, tensor<f32>) {
  %v = nn.reshape %x : (tensor<2x3xf32>) -> tensor<6xf32>
  func.return %x, %v, %s : tensor<2x3xf32>, tensor<6xf32>, tensor<f32>
}
