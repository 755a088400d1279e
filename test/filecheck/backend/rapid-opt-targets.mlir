rapid_isa.program machine "rapid-1c" {
  rapid_isa.tensor "input" "x" "f16" [8, 8] at 0
  rapid_isa.tensor "output" "y" "f16" [8, 8] at 256
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.dma_copy lx[0x0] f16 {8:8, 8:1}, dram[0x0] f16 {8:8, 8:1}
      rapid_isa.signal s0
      rapid_isa.wait s1
      rapid_isa.dma_copy dram[0x100] f16 {8:8, 8:1}, lx[0x80] f16 {8:8, 8:1}
      rapid_isa.halt
    }
    rapid_isa.stream "sfu0" {
      rapid_isa.wait s0
      rapid_isa.sfu_relu lx[0x80] f16 {8:8, 8:1}, lx[0x0] f16 {8:8, 8:1}
      rapid_isa.signal s1
      rapid_isa.halt
    }
  }
}

// The rapid_isa dialect printed as assembly and as a binary by rapid-opt's targets.
// RUN: rapid-opt %s -t rasm | filecheck %s --check-prefix=RASM
// RUN: rapid-opt %s -t rbin -o %t.rbin
// RUN: rapid-objdump %t.rbin | filecheck %s --check-prefix=RASM
// RUN: rapid-opt %s -t rasm > %t.rasm && rapid-as %t.rasm -o %t3.rbin && rapid-objdump %t3.rbin | filecheck %s --check-prefix=RASM
// RUN: not rapid-opt %inputs/rapid-opt-ok.mlir -t rasm 2>&1 | filecheck %s --check-prefix=NOPROG

// RASM:      .machine rapid-1c
// RASM-NEXT: .input x f16 [8, 8] @ 0x0
// RASM-NEXT: .output y f16 [8, 8] @ 0x100
// RASM-EMPTY:
// RASM-NEXT: .core 0
// RASM-NEXT: .stream dma0
// RASM-NEXT:     dma.copy lx[0x0] f16 {8:8, 8:1}, dram[0x0] f16 {8:8, 8:1}
// RASM-NEXT:     signal s0
// RASM-NEXT:     wait s1
// RASM-NEXT:     dma.copy dram[0x100] f16 {8:8, 8:1}, lx[0x80] f16 {8:8, 8:1}
// RASM-NEXT:     halt
// RASM-NEXT: .stream sfu0
// RASM-NEXT:     wait s0
// RASM-NEXT:     sfu.relu lx[0x80] f16 {8:8, 8:1}, lx[0x0] f16 {8:8, 8:1}
// RASM-NEXT:     signal s1
// RASM-NEXT:     halt

// NOPROG: rapid-opt: error: expected one rapid_isa.program in the module, found 0
// NOPROG-NOT: Traceback
