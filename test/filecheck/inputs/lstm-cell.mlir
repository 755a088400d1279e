// One LSTM step after its recurrent gemm (as decompose-rnn writes it): the gates, the
// split into the i/o/f and candidate blocks, their activations and the state update.
func.func @cell(%xw: tensor<2x32xf32>, %rec: tensor<2x32xf32>, %c0: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %gates = nn.add %xw, %rec {nn.name = "t1.gates"} : (tensor<2x32xf32>, tensor<2x32xf32>) -> tensor<2x32xf32>
  %iof_pre, %c_pre = nn.split %gates axis 1 sizes [24, 8] {nn.name = "t1.gates.split"} : (tensor<2x32xf32>) -> (tensor<2x24xf32>, tensor<2x8xf32>)
  %sig = nn.sigmoid %iof_pre {nn.name = "t1.sigmoid"} : tensor<2x24xf32>
  %i, %o, %f = nn.split %sig axis 1 sizes [8, 8, 8] {nn.name = "t1.sigmoid.split"} : (tensor<2x24xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>)
  %cand = nn.tanh %c_pre {nn.name = "t1.tanh"} : tensor<2x8xf32>
  %ic = nn.mul %i, %cand {nn.name = "t1.i_cand"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %fc = nn.mul %f, %c0 {nn.name = "t1.f_c"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %c = nn.add %fc, %ic {nn.name = "t1.c"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %ct = nn.tanh %c {nn.name = "t1.c.tanh"} : tensor<2x8xf32>
  %h = nn.mul %o, %ct {nn.name = "t1.h"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %h, %c : tensor<2x8xf32>, tensor<2x8xf32>
}
