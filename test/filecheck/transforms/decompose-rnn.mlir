// decompose-rnn: each nn.lstm / nn.gru becomes per-time-step gemms (trans_b, the 2-D
// products the matrix engine runs) and elementwise ops, every op named after the layer,
// the step and its part. A layer with more steps (T x dirs) than max-steps stays whole.
// RUN: rapid-opt %s --split-input-file -p decompose-rnn | filecheck %s
// RUN: rapid-opt %s --split-input-file -p 'decompose-rnn{max-steps=1}' | filecheck %s --check-prefix=LIMIT

// An LSTM over 2 steps, Y and Y_c used: the input projection of both steps is one gemm
// with the two biases summed; step 0 starts from zero states (no h R^T, no f * c).
// CHECK-LABEL: func.func @lstm
// CHECK-NEXT: %lstm1_x = nn.reshape %x {nn.name = "lstm1.x"} : (tensor<2x1x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: %lstm1_w = nn.reshape %w {nn.name = "lstm1.w"}
// CHECK-NEXT: %lstm1_r = nn.reshape %r {nn.name = "lstm1.r"}
// CHECK-NEXT: %lstm1_b = nn.reshape %b {nn.name = "lstm1.b"}
// CHECK-NEXT: %lstm1_wb, %lstm1_rb = nn.split %lstm1_b axis 0 sizes [8, 8] {nn.name = "lstm1.b.split"}
// CHECK-NEXT: %lstm1_bias = nn.add %lstm1_wb, %lstm1_rb {nn.name = "lstm1.bias"}
// CHECK-NEXT: %lstm1_x_proj = nn.gemm %lstm1_x, %lstm1_w bias %lstm1_bias trans_b alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "lstm1.x_proj"} : (tensor<2x3xf32>, tensor<8x3xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: %lstm1_x_steps, %lstm1_x_steps_1 = nn.split %lstm1_x_proj axis 0 sizes [1, 1] {nn.name = "lstm1.x_steps"}
// CHECK-NEXT: %lstm1_t0_iof_pre, %lstm1_t0_c_pre = nn.split %lstm1_x_steps axis 1 sizes [6, 2] {nn.name = "lstm1.t0.gates.split"}
// CHECK-NEXT: %lstm1_t0_sigmoid = nn.sigmoid %lstm1_t0_iof_pre {nn.name = "lstm1.t0.sigmoid"} : tensor<1x6xf32>
// CHECK-NEXT: %lstm1_t0_i, %lstm1_t0_o, %lstm1_t0_f = nn.split %lstm1_t0_sigmoid axis 1 sizes [2, 2, 2] {nn.name = "lstm1.t0.sigmoid.split"}
// CHECK-NEXT: %lstm1_t0_tanh = nn.tanh %lstm1_t0_c_pre {nn.name = "lstm1.t0.tanh"}
// CHECK-NEXT: %lstm1_t0_i_cand = nn.mul %lstm1_t0_i, %lstm1_t0_tanh {nn.name = "lstm1.t0.i_cand"}
// CHECK-NEXT: %lstm1_t0_c_tanh = nn.tanh %lstm1_t0_i_cand {nn.name = "lstm1.t0.c.tanh"}
// CHECK-NEXT: %lstm1_t0_h = nn.mul %lstm1_t0_o, %lstm1_t0_c_tanh {nn.name = "lstm1.t0.h"}
// CHECK-NEXT: %lstm1_t1_rec = nn.gemm %lstm1_t0_h, %lstm1_r trans_b alpha 1.000000e+00 beta 1.000000e+00 {nn.name = "lstm1.t1.rec"} : (tensor<1x2xf32>, tensor<8x2xf32>) -> tensor<1x8xf32>
// CHECK-NEXT: %lstm1_t1_gates = nn.add %lstm1_x_steps_1, %lstm1_t1_rec {nn.name = "lstm1.t1.gates"}
// CHECK-NEXT: %lstm1_t1_iof_pre, %lstm1_t1_c_pre = nn.split %lstm1_t1_gates axis 1 sizes [6, 2] {nn.name = "lstm1.t1.gates.split"}
// CHECK-NEXT: %lstm1_t1_sigmoid = nn.sigmoid %lstm1_t1_iof_pre {nn.name = "lstm1.t1.sigmoid"}
// CHECK-NEXT: %lstm1_t1_i, %lstm1_t1_o, %lstm1_t1_f = nn.split %lstm1_t1_sigmoid axis 1 sizes [2, 2, 2] {nn.name = "lstm1.t1.sigmoid.split"}
// CHECK-NEXT: %lstm1_t1_tanh = nn.tanh %lstm1_t1_c_pre {nn.name = "lstm1.t1.tanh"}
// CHECK-NEXT: %lstm1_t1_i_cand = nn.mul %lstm1_t1_i, %lstm1_t1_tanh {nn.name = "lstm1.t1.i_cand"}
// CHECK-NEXT: %lstm1_t1_f_c = nn.mul %lstm1_t1_f, %lstm1_t0_i_cand {nn.name = "lstm1.t1.f_c"}
// CHECK-NEXT: %lstm1_t1_c = nn.add %lstm1_t1_f_c, %lstm1_t1_i_cand {nn.name = "lstm1.t1.c"}
// CHECK-NEXT: %lstm1_t1_c_tanh = nn.tanh %lstm1_t1_c {nn.name = "lstm1.t1.c.tanh"}
// CHECK-NEXT: %lstm1_t1_h = nn.mul %lstm1_t1_o, %lstm1_t1_c_tanh {nn.name = "lstm1.t1.h"}
// CHECK-NEXT: %lstm1_y_concat = nn.concat %lstm1_t0_h, %lstm1_t1_h axis 0 {nn.name = "lstm1.y.concat"} : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<2x2xf32>
// CHECK-NEXT: %lstm1_y = nn.reshape %lstm1_y_concat {nn.name = "lstm1.y"} : (tensor<2x2xf32>) -> tensor<2x1x1x2xf32>
// CHECK-NEXT: %lstm1_y_c = nn.reshape %lstm1_t1_c {nn.name = "lstm1.y_c"} : (tensor<1x2xf32>) -> tensor<1x1x2xf32>
// CHECK-NEXT: func.return %lstm1_y, %lstm1_y_c
// CHECK-NOT: nn.lstm

// LIMIT-LABEL: func.func @lstm
// LIMIT-NEXT: nn.lstm
// LIMIT-SAME: {nn.name = "lstm1"}

func.func @lstm(%x: tensor<2x1x3xf32>, %w: tensor<1x8x3xf32>, %r: tensor<1x8x2xf32>, %b: tensor<1x16xf32>) -> (tensor<2x1x1x2xf32>, tensor<1x1x2xf32>) {
  %y, %y_h, %y_c = nn.lstm(%x : tensor<2x1x3xf32>, %w : tensor<1x8x3xf32>, %r : tensor<1x8x2xf32> bias %b : tensor<1x16xf32>) hidden_size 2 direction forward {nn.name = "lstm1"} -> (tensor<2x1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>)
  func.return %y, %y_c : tensor<2x1x1x2xf32>, tensor<1x1x2xf32>
}

// -----

// A reverse GRU with an initial state and only Y_h used: steps t1 then t0, the weights
// cut once into the z/r and h gate blocks; (r * h) R_h^T as in ONNX's default; the update
// (1 - z) n + z h as n + z (h - n).
// CHECK-LABEL: func.func @gru
// CHECK-NEXT: %gru1_x = nn.reshape %x {nn.name = "gru1.x"}
// CHECK-NEXT: %gru1_w = nn.reshape %w {nn.name = "gru1.w"}
// CHECK-NEXT: %gru1_w_zr, %gru1_w_h = nn.split %gru1_w axis 0 sizes [4, 2] {nn.name = "gru1.w.split"}
// CHECK-NEXT: %gru1_r = nn.reshape %r {nn.name = "gru1.r"}
// CHECK-NEXT: %gru1_r_zr, %gru1_r_h = nn.split %gru1_r axis 0 sizes [4, 2] {nn.name = "gru1.r.split"}
// CHECK-NEXT: %gru1_h0 = nn.reshape %h0 {nn.name = "gru1.h0"} : (tensor<1x1x2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT: %gru1_x_proj_zr = nn.gemm %gru1_x, %gru1_w_zr trans_b {{.*}} {nn.name = "gru1.x_proj_zr"} : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %gru1_x_steps_zr, %gru1_x_steps_zr_1 = nn.split %gru1_x_proj_zr axis 0 sizes [1, 1] {nn.name = "gru1.x_steps_zr"}
// CHECK-NEXT: %gru1_x_proj_h = nn.gemm %gru1_x, %gru1_w_h trans_b {{.*}} {nn.name = "gru1.x_proj_h"}
// CHECK-NEXT: %gru1_x_steps_h, %gru1_x_steps_h_1 = nn.split %gru1_x_proj_h axis 0 sizes [1, 1] {nn.name = "gru1.x_steps_h"}
// CHECK-NEXT: %gru1_t1_rec_zr = nn.gemm %gru1_h0, %gru1_r_zr trans_b {{.*}} {nn.name = "gru1.t1.rec_zr"}
// CHECK-NEXT: %gru1_t1_zr_pre = nn.add %gru1_x_steps_zr_1, %gru1_t1_rec_zr {nn.name = "gru1.t1.zr_pre"}
// CHECK-NEXT: %gru1_t1_zr = nn.sigmoid %gru1_t1_zr_pre {nn.name = "gru1.t1.zr"} : tensor<1x4xf32>
// CHECK-NEXT: %gru1_t1_z, %gru1_t1_r = nn.split %gru1_t1_zr axis 1 sizes [2, 2] {nn.name = "gru1.t1.zr.split"}
// CHECK-NEXT: %gru1_t1_r_h = nn.mul %gru1_t1_r, %gru1_h0 {nn.name = "gru1.t1.r_h"}
// CHECK-NEXT: %gru1_t1_rec_h = nn.gemm %gru1_t1_r_h, %gru1_r_h trans_b {{.*}} {nn.name = "gru1.t1.rec_h"}
// CHECK-NEXT: %gru1_t1_n_pre = nn.add %gru1_x_steps_h_1, %gru1_t1_rec_h {nn.name = "gru1.t1.n_pre"}
// CHECK-NEXT: %gru1_t1_n = nn.tanh %gru1_t1_n_pre {nn.name = "gru1.t1.n"}
// CHECK-NEXT: %gru1_t1_h_n = nn.sub %gru1_h0, %gru1_t1_n {nn.name = "gru1.t1.h_n"}
// CHECK-NEXT: %gru1_t1_z_h_n = nn.mul %gru1_t1_z, %gru1_t1_h_n {nn.name = "gru1.t1.z_h_n"}
// CHECK-NEXT: %gru1_t1_h = nn.add %gru1_t1_n, %gru1_t1_z_h_n {nn.name = "gru1.t1.h"}
// CHECK-NEXT: %gru1_t0_rec_zr = nn.gemm %gru1_t1_h, %gru1_r_zr trans_b {{.*}} {nn.name = "gru1.t0.rec_zr"}
// CHECK-NEXT: %gru1_t0_zr_pre = nn.add %gru1_x_steps_zr, %gru1_t0_rec_zr {nn.name = "gru1.t0.zr_pre"}
// CHECK:      %gru1_t0_h = nn.add %gru1_t0_n, %gru1_t0_z_h_n {nn.name = "gru1.t0.h"}
// CHECK-NEXT: %gru1_y_h = nn.reshape %gru1_t0_h {nn.name = "gru1.y_h"} : (tensor<1x2xf32>) -> tensor<1x1x2xf32>
// CHECK-NEXT: func.return %gru1_y_h

// LIMIT-LABEL: func.func @gru
// LIMIT-NEXT: nn.gru
// LIMIT-SAME: {nn.name = "gru1"}

func.func @gru(%x: tensor<2x1x3xf32>, %w: tensor<1x6x3xf32>, %r: tensor<1x6x2xf32>, %h0: tensor<1x1x2xf32>) -> tensor<1x1x2xf32> {
  %y, %y_h = nn.gru(%x : tensor<2x1x3xf32>, %w : tensor<1x6x3xf32>, %r : tensor<1x6x2xf32> initial_h %h0 : tensor<1x1x2xf32>) hidden_size 2 direction reverse {nn.name = "gru1"} -> (tensor<2x1x1x2xf32>, tensor<1x1x2xf32>)
  func.return %y_h : tensor<1x1x2xf32>
}

// -----

// linear_before_reset, one step with a bias and an initial state, no name: the layer is
// `gru_0`; Rb_h stays inside the reset gate, r * (h R_h^T + Rb_h), the other biases go to
// the input projections. A layer marked nn.host stays whole, keeping its generated name;
// with max-steps=1 the one-step layer is still decomposed.
// CHECK-LABEL: func.func @gru_lbr
// CHECK:      %gru_0_bias_zr = nn.add %gru_0_wb_zr, %gru_0_rb_zr {nn.name = "gru_0.bias_zr"}
// CHECK-NEXT: %gru_0_x_proj_zr = nn.gemm %gru_0_x, %gru_0_w_zr bias %gru_0_bias_zr trans_b
// CHECK-NEXT: %gru_0_x_proj_h = nn.gemm %gru_0_x, %gru_0_w_h bias %gru_0_wb_h trans_b
// CHECK:      %gru_0_t0_rec_h = nn.gemm %gru_0_h0, %gru_0_r_h bias %gru_0_rb_h trans_b {{.*}} {nn.name = "gru_0.t0.rec_h"}
// CHECK-NEXT: %gru_0_t0_r_rec_h = nn.mul %gru_0_t0_r, %gru_0_t0_rec_h {nn.name = "gru_0.t0.r_rec_h"}
// CHECK-NEXT: %gru_0_t0_n_pre = nn.add %gru_0_x_proj_h, %gru_0_t0_r_rec_h {nn.name = "gru_0.t0.n_pre"}
// CHECK:      nn.gru{{.*}} {nn.host, nn.name = "gru_1"}

// LIMIT-LABEL: func.func @gru_lbr
// LIMIT-NEXT: %gru_0_x = nn.reshape %x {nn.name = "gru_0.x"}
// LIMIT:      nn.gru{{.*}} {nn.host, nn.name = "gru_1"}

func.func @gru_lbr(%x: tensor<1x2x3xf32>, %w: tensor<1x6x3xf32>, %r: tensor<1x6x2xf32>, %b: tensor<1x12xf32>, %h0: tensor<1x2x2xf32>) -> (tensor<1x2x2xf32>, tensor<1x2x2xf32>) {
  %y, %y_h = nn.gru(%x : tensor<1x2x3xf32>, %w : tensor<1x6x3xf32>, %r : tensor<1x6x2xf32> bias %b : tensor<1x12xf32> initial_h %h0 : tensor<1x2x2xf32>) hidden_size 2 direction forward linear_before_reset -> (tensor<1x1x2x2xf32>, tensor<1x2x2xf32>)
  %y2, %y_h2 = nn.gru(%x : tensor<1x2x3xf32>, %w : tensor<1x6x3xf32>, %r : tensor<1x6x2xf32>) hidden_size 2 direction forward {nn.host} -> (tensor<1x1x2x2xf32>, tensor<1x2x2xf32>)
  func.return %y_h, %y_h2 : tensor<1x2x2xf32>, tensor<1x2x2xf32>
}
