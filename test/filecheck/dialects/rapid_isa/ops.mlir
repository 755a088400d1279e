// Every rapid_isa instruction in custom syntax; the generic form round-trips to the same text.
// RUN: rapid-opt %s | filecheck %s
// RUN: %roundtrip | filecheck %s
// RUN: rapid-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

rapid_isa.program machine "rapid-4c" {
  rapid_isa.tensor "input" "x" "f16" [64, 64] at 0
  rapid_isa.tensor "output" "y" "f32" [8, 8] at 8192
  rapid_isa.data "w" "f16" [2] at 16384 value dense<[1.500000e+00, -2.000000e+00]> : tensor<2xf32>
  rapid_isa.data "v" "f16" [4, 4] at 16512 from "weights.npz"
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.li r1, 256
      rapid_isa.addi r2, r1, -64
      rapid_isa.loop 4, 2
      rapid_isa.dma_copy lx[r1 + 0x40] f16 {8:64, 8:1}, dram[0x0] f16 {8:64, 8:1} pad {1:0, 0:1} padval -inf
      rapid_isa.addi r1, r1, 64
      rapid_isa.dma_copy remote 2 lx[0x100] f16 {64:1}, lx[0x0] f16 {64:1}
      rapid_isa.dma_copy dram[0x1000] f32 {4:-1}, lx[0x10] f32 {4:1}
      rapid_isa.wait s0
      rapid_isa.signal s1 core 2
      rapid_isa.signal s31
      rapid_isa.barrier
      rapid_isa.nop
      rapid_isa.halt
    }
    rapid_isa.stream "mpe0" {
      rapid_isa.mpe_mm acc[0x0] f32 {2:64, 4:8, 8:1}, lx[0x0] f16 {2:256, 4:16, 16:1}, lx[0x2000] f16 {16:8, 8:1}
      rapid_isa.mpe_mma acc[0x0] f32 {1:0, 8:8, 8:1}, lx[r3 - 0x10] f16 {1:0, 8:8, 8:1}, lx[0x2000] f16 {8:8, 8:1}
      rapid_isa.halt
    }
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_copy lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
      rapid_isa.sfu_relu lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
      rapid_isa.sfu_sigmoid lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
      rapid_isa.sfu_tanh lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
      rapid_isa.sfu_exp lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
      rapid_isa.sfu_erf lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
      rapid_isa.sfu_sqrt lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
      rapid_isa.sfu_recip lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
      rapid_isa.sfu_clip lx[0x0] f16 {64:1}, lx[0x80] f16 {64:1}, 0.0, 6.0
      rapid_isa.sfu_scale lx[0x0] f16 {64:1}, lx[0x80] f16 {64:1}, 0.5, -1.25
      rapid_isa.sfu_log lx[0x0] f32 {64:1}, lx[0x80] f16 {64:1}
      rapid_isa.sfu_add lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
      rapid_isa.sfu_sub lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
      rapid_isa.sfu_mul lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
      rapid_isa.sfu_div lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
      rapid_isa.sfu_max lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
      rapid_isa.sfu_min lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
      rapid_isa.sfu_fma lx[0x0] f32 {8:8, 8:1}, lx[0x100] f32 {8:8, 8:1}, lx[0x200] f32 {8:0, 8:1}, lx[0x300] f32 {8:1, 8:0}
      rapid_isa.sfu_rsum lx[0x0] f32 {8:1, 1:1}, acc[0x0] f32 {8:8, 8:1}
      rapid_isa.sfu_rmax lx[0x0] f32 {8:1, 1:1}, acc[0x0] f32 {8:8, 8:1}
      rapid_isa.sfu_maxpool lx[0x0] f16 {4:8, 4:2}, lx[0x100] f16 {4:8, 4:2}, {2:8, 2:1}
      rapid_isa.sfu_avgpool lx[0x0] f16 {4:8, 4:2}, lx[0x100] f16 {4:8, 4:2}, {3:8, 3:1}, 0.11111111
      rapid_isa.halt
    }
    rapid_isa.stream "sfu1" {
      rapid_isa.halt
    }
  }
}

// CHECK:      rapid_isa.program machine "rapid-4c" {
// CHECK-NEXT:   rapid_isa.tensor "input" "x" "f16" [64, 64] at 0
// CHECK-NEXT:   rapid_isa.tensor "output" "y" "f32" [8, 8] at 8192
// CHECK-NEXT:   rapid_isa.data "w" "f16" [2] at 16384 value dense<[1.500000e+00, -2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:   rapid_isa.data "v" "f16" [4, 4] at 16512 from "weights.npz"
// CHECK-NEXT:   rapid_isa.core 0 {
// CHECK-NEXT:     rapid_isa.stream "dma0" {
// CHECK-NEXT:       rapid_isa.li r1, 256
// CHECK-NEXT:       rapid_isa.addi r2, r1, -64
// CHECK-NEXT:       rapid_isa.loop 4, 2
// CHECK-NEXT:       rapid_isa.dma_copy lx[r1 + 0x40] f16 {8:64, 8:1}, dram[0x0] f16 {8:64, 8:1} pad {1:0, 0:1} padval -inf
// CHECK-NEXT:       rapid_isa.addi r1, r1, 64
// CHECK-NEXT:       rapid_isa.dma_copy remote 2 lx[0x100] f16 {64:1}, lx[0x0] f16 {64:1}
// CHECK-NEXT:       rapid_isa.dma_copy dram[0x1000] f32 {4:-1}, lx[0x10] f32 {4:1}
// CHECK-NEXT:       rapid_isa.wait s0
// CHECK-NEXT:       rapid_isa.signal s1 core 2
// CHECK-NEXT:       rapid_isa.signal s31
// CHECK-NEXT:       rapid_isa.barrier
// CHECK-NEXT:       rapid_isa.nop
// CHECK-NEXT:       rapid_isa.halt
// CHECK-NEXT:     }
// CHECK-NEXT:     rapid_isa.stream "mpe0" {
// CHECK-NEXT:       rapid_isa.mpe_mm acc[0x0] f32 {2:64, 4:8, 8:1}, lx[0x0] f16 {2:256, 4:16, 16:1}, lx[0x2000] f16 {16:8, 8:1}
// CHECK-NEXT:       rapid_isa.mpe_mma acc[0x0] f32 {1:0, 8:8, 8:1}, lx[r3 - 0x10] f16 {1:0, 8:8, 8:1}, lx[0x2000] f16 {8:8, 8:1}
// CHECK-NEXT:       rapid_isa.halt
// CHECK-NEXT:     }
// CHECK-NEXT:     rapid_isa.stream "sfu0" {
// CHECK-NEXT:       rapid_isa.sfu_copy lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
// CHECK-NEXT:       rapid_isa.sfu_relu lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
// CHECK-NEXT:       rapid_isa.sfu_sigmoid lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
// CHECK-NEXT:       rapid_isa.sfu_tanh lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
// CHECK-NEXT:       rapid_isa.sfu_exp lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
// CHECK-NEXT:       rapid_isa.sfu_erf lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
// CHECK-NEXT:       rapid_isa.sfu_sqrt lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
// CHECK-NEXT:       rapid_isa.sfu_recip lx[0x0] f16 {64:1}, acc[0x0] f32 {64:1}
// CHECK-NEXT:       rapid_isa.sfu_clip lx[0x0] f16 {64:1}, lx[0x80] f16 {64:1}, 0.0, 6.0
// CHECK-NEXT:       rapid_isa.sfu_scale lx[0x0] f16 {64:1}, lx[0x80] f16 {64:1}, 0.5, -1.25
// CHECK-NEXT:       rapid_isa.sfu_log lx[0x0] f32 {64:1}, lx[0x80] f16 {64:1}
// CHECK-NEXT:       rapid_isa.sfu_add lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
// CHECK-NEXT:       rapid_isa.sfu_sub lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
// CHECK-NEXT:       rapid_isa.sfu_mul lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
// CHECK-NEXT:       rapid_isa.sfu_div lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
// CHECK-NEXT:       rapid_isa.sfu_max lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
// CHECK-NEXT:       rapid_isa.sfu_min lx[0x0] f16 {8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}, lx[0x200] f16 {8:0, 8:1}
// CHECK-NEXT:       rapid_isa.sfu_fma lx[0x0] f32 {8:8, 8:1}, lx[0x100] f32 {8:8, 8:1}, lx[0x200] f32 {8:0, 8:1}, lx[0x300] f32 {8:1, 8:0}
// CHECK-NEXT:       rapid_isa.sfu_rsum lx[0x0] f32 {8:1, 1:1}, acc[0x0] f32 {8:8, 8:1}
// CHECK-NEXT:       rapid_isa.sfu_rmax lx[0x0] f32 {8:1, 1:1}, acc[0x0] f32 {8:8, 8:1}
// CHECK-NEXT:       rapid_isa.sfu_maxpool lx[0x0] f16 {4:8, 4:2}, lx[0x100] f16 {4:8, 4:2}, {2:8, 2:1}
// CHECK-NEXT:       rapid_isa.sfu_avgpool lx[0x0] f16 {4:8, 4:2}, lx[0x100] f16 {4:8, 4:2}, {3:8, 3:1}, 0.11111111
// CHECK-NEXT:       rapid_isa.halt
// CHECK-NEXT:     }
// CHECK-NEXT:     rapid_isa.stream "sfu1" {
// CHECK-NEXT:       rapid_isa.halt
// CHECK-NEXT:     }
// CHECK-NEXT:   }
// CHECK-NEXT: }
// GENERIC: "rapid_isa.dma_copy"() <{dst = #rapid_isa.ap<lx[r1 + 0x40] f16 {8:64, 8:1}>, src = #rapid_isa.ap<dram[0x0] f16 {8:64, 8:1} pad {1:0, 0:1}>, padval = 0xff800000 : f32}> : () -> ()
// GENERIC: "rapid_isa.signal"() <{sem = 1 : i64, core = 2 : i64}> : () -> ()
// GENERIC: "rapid_isa.sfu_maxpool"() <{dst = #rapid_isa.ap<lx[0x0] f16 {4:8, 4:2}>, src = #rapid_isa.ap<lx[0x100] f16 {4:8, 4:2}>, win = #rapid_isa.window<{2:8, 2:1}>}> : () -> ()
