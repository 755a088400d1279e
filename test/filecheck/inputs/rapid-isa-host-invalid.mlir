// Invalid host-op manifests (test/filecheck/dialects/rapid_isa/host.mlir checks the messages).

rapid_isa.program machine "rapid-1c" {
  rapid_isa.host_op 1 "t" reads [#rapid_isa.host_tensor<"x" f16 [4, 8] at 0>] writes [#rapid_isa.host_tensor<"y" f16 [8, 4] at 128>] function "func.func @host(%a: tensor<4x8xf32>) -> tensor<8x4xf32> {\0A  %t = nn.transpose %a perm [1, 0] : (tensor<4x8xf32>) -> tensor<8x4xf32>\0A  func.return %t : tensor<8x4xf32>\0A}"
}

// -----

rapid_isa.program machine "rapid-1c" {
  rapid_isa.host_op 0 "t" reads [#rapid_isa.host_tensor<"x" f16 [4, 8] at 0>] writes [#rapid_isa.host_tensor<"y" f16 [8, 4] at 128>] function "func.func @host(%a: tensor<4x8xf32>) -> tensor<8x4xf32> {\0A  %t = nn.transpose %a perm [1, 0] : (tensor<4x8xf32>) -> tensor<8x4xf32>\0A  func.return %t : tensor<8x4xf32>\0A}"
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.host 2
      rapid_isa.halt
    }
  }
}

// -----

rapid_isa.program machine "rapid-1c" {
  rapid_isa.host_op 0 "t" reads [] writes [#rapid_isa.host_tensor<"y" f16 [8, 4] at 128>] function "func.func @host("
}

// -----

rapid_isa.program machine "rapid-1c" {
  rapid_isa.host_op 0 "t" reads [#rapid_isa.host_tensor<"x" f16 [4, 8] at 0>] writes [#rapid_isa.host_tensor<"y" f16 [8, 4] at 128>, #rapid_isa.host_tensor<"z" f16 [8, 4] at 256>] function "func.func @host(%a: tensor<4x8xf32>) -> tensor<8x4xf32> {\0A  %t = nn.transpose %a perm [1, 0] : (tensor<4x8xf32>) -> tensor<8x4xf32>\0A  func.return %t : tensor<8x4xf32>\0A}"
}

// -----

rapid_isa.program machine "rapid-1c" {
  rapid_isa.host_op 0 "t" reads [#rapid_isa.host_tensor<"x" i8 [4, 8] at 0>] writes [#rapid_isa.host_tensor<"y" f16 [8, 4] at 128>] function "func.func @host() {\0A}"
}
