// The host-op manifest in the rapid_isa dialect: rapid_isa.host_op entries and the host
// instruction; custom syntax round-trips through the generic form; the verifiers.
// RUN: rapid-opt %s --split-input-file | filecheck %s
// RUN: %roundtrip | filecheck %s
// RUN: rapid-opt %s -t rasm | filecheck %s --check-prefix=ASM
// RUN: rapid-opt %inputs/rapid-isa-host-invalid.mlir --split-input-file --verify-diagnostics | filecheck %s --check-prefix=ERR

rapid_isa.program machine "rapid-1c" {
  rapid_isa.tensor "input" "x" "f16" [4, 8] at 0
  rapid_isa.tensor "output" "y" "f16" [8, 4] at 128
  rapid_isa.host_op 0 "t" reads [#rapid_isa.host_tensor<"x" f16 [4, 8] at 0>] writes [#rapid_isa.host_tensor<"y" f16 [8, 4] at 128>] function "func.func @host(%a: tensor<4x8xf32>) -> tensor<8x4xf32> {\0A  %t = nn.transpose %a perm [1, 0] : (tensor<4x8xf32>) -> tensor<8x4xf32>\0A  func.return %t : tensor<8x4xf32>\0A}"
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.host 0 {origin = "t"}
      rapid_isa.halt
    }
  }
}

// CHECK:      rapid_isa.host_op 0 "t" reads [#rapid_isa.host_tensor<"x" f16 [4, 8] at 0>] writes [#rapid_isa.host_tensor<"y" f16 [8, 4] at 128>] function "func.func @host(%a: tensor<4x8xf32>) -> tensor<8x4xf32> {\0A  %t = nn.transpose %a perm [1, 0] : (tensor<4x8xf32>) -> tensor<8x4xf32>\0A  func.return %t : tensor<8x4xf32>\0A}"
// CHECK:          rapid_isa.host 0 {origin = "t"}

// ASM:      .host 0 "t"
// ASM-NEXT: .host_in x f16 [4, 8] @ 0x0
// ASM-NEXT: .host_out y f16 [8, 4] @ 0x80
// ASM-NEXT: .host_mlir "func.func @host(%a: tensor<4x8xf32>) -> tensor<8x4xf32> {"
// ASM:          host 0

// ERR: rapid_isa.program: host op 1 is the program's entry 0 (number them in order from 0)
// ERR: rapid_isa.program: host 2: the program's host-op manifest has entries 0..0
// ERR: rapid_isa.host_op: host op 0 ('t'): its function does not parse or verify
// ERR: rapid_isa.host_op: host op 0 ('t'): the function has 1 results but the entry lists 2 outputs
// ERR: rapid_isa.host_tensor: dtype must be f16 or f32 but is 'i8'
