// convert-mem-to-isa: streams per engine, hardware loops with shared address registers, tokens as semaphores.
// RUN: rapid-opt %S/../../../examples/mem/gemm_64x256x64.mlir -p 'rapid-mem-allocate{machine=rapid-1c},convert-mem-to-isa{machine=rapid-1c}' | filecheck %s
// RUN: rapid-opt %S/../../../examples/mem/gemm_64x256x64.mlir -p 'rapid-mem-allocate{machine=rapid-1c},convert-mem-to-isa{machine=rapid-1c}' -t rasm | filecheck %s --check-prefix=ASM
// RUN: not rapid-opt %S/../../../examples/mem/gemm_64x256x64.mlir -p 'convert-mem-to-isa{machine=rapid-1c}' 2>&1 | filecheck %s --check-prefix=NOALLOC
// RUN: not rapid-opt %s -p 'rapid-mem-allocate{machine=rapid-1c},convert-mem-to-isa{machine=rapid-1c}' 2>&1 | filecheck %s --check-prefix=QUEUE
// RUN: rapid-opt %inputs/mem-nested-passthrough.mlir -p 'rapid-mem-allocate{machine=rapid-1c},convert-mem-to-isa{machine=rapid-1c}' -t rasm | filecheck %s --check-prefix=PASS

// CHECK:      rapid_isa.program machine "rapid-1c" {
// CHECK-NEXT:   rapid_isa.tensor "input" "A" "f16" [64, 256] at 0
// CHECK-NEXT:   rapid_isa.tensor "input" "B" "f16" [256, 64] at 32768
// CHECK-NEXT:   rapid_isa.tensor "output" "C" "f32" [64, 64] at 65536
// CHECK-NEXT:   rapid_isa.core 0 {
// CHECK-NEXT:     rapid_isa.stream "dma0" {

// ASM:      .stream dma0
// ASM-NEXT:     dma.copy lx[0x0] f16 {64:256, 256:1}, dram[0x0] f16 {64:256, 256:1}
// ASM-NEXT:     signal s0
// ASM-NEXT:     dma.copy lx[0x8000] f16 {256:64, 64:1}, dram[0x8000] f16 {256:64, 64:1}
// ASM-NEXT:     signal s1
// ASM-NEXT:     halt
// ASM-NEXT: .stream dma1
// ASM-NEXT:     wait s3
// ASM-NEXT:     dma.copy dram[0x10000] f32 {64:64, 64:1}, lx[0x10000] f32 {64:64, 64:1}
// ASM-NEXT:     halt
// ASM-NEXT: .stream mpe0
// ASM-NEXT:     li r1, 0x0
// ASM-NEXT:     li r2, 0x0
// ASM-NEXT:     wait s0
// ASM-NEXT:     wait s1
// ASM-NEXT:     loop 2, 5
// ASM-NEXT:     mpe.mm acc[r1] f32 {1:0, 64:64, 32:1}, lx[0x0] f16 {1:0, 64:256, 128:1}, lx[r2+0x8000] f16 {128:64, 32:1}
// ASM-NEXT:     mpe.mma acc[r1] f32 {1:0, 64:64, 32:1}, lx[0x100] f16 {1:0, 64:256, 128:1}, lx[r2+0xc000] f16 {128:64, 32:1}
// ASM-NEXT:     signal s2
// ASM-NEXT:     addi r1, r1, 0x80
// ASM-NEXT:     addi r2, r2, 0x40
// ASM-NEXT:     addi r1, r1, -0x100
// ASM-NEXT:     addi r2, r2, -0x80
// ASM-NEXT:     halt
// ASM-NEXT: .stream sfu0
// ASM-NEXT:     loop 2, 1
// ASM-NEXT:     wait s2
// ASM-NEXT:     sfu.copy lx[0x10000] f32 {64:64, 64:1}, acc[0x0] f32 {64:64, 64:1}
// ASM-NEXT:     signal s3
// ASM-NEXT:     halt

// NOALLOC: rapid-opt: error: {{.*}}convert-mem-to-isa: layer 'gemm': a buffer has no offset: run rapid-mem-allocate first

// QUEUE: rapid-opt: error: {{.*}}convert-mem-to-isa: layer 'q': DMA queue 5 but the machine has queues 0..1

func.func @q(%A: !rapid_mem.buffer<64xf16, dram>) {
  rapid_mem.kernel "q" cores 1 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64xf16, lx>
    %t = rapid_mem.dma queue 5 %l <offset 0, dims {64:1}>, %a <offset 0, dims {64:1}> after() : !rapid_mem.buffer<64xf16, lx>, !rapid_mem.buffer<64xf16, dram>
  }
  func.return
}

// A token handed on unchanged through nested loops: one wait before the loops.
// PASS:      .stream dma0
// PASS-NEXT:     dma.copy lx[0x0] f16 {8:1}, dram[0x0] f16 {8:1}
// PASS-NEXT:     signal s0
// PASS:      .stream dma1
// PASS-NEXT:     wait s0
// PASS-NEXT:     loop 2, 2
// PASS-NEXT:     loop 2, 1
// PASS-NEXT:     dma.copy dram[0x80] f16 {8:1}, lx[0x0] f16 {8:1}
// PASS-NEXT:     halt
