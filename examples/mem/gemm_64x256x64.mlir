// C[64,64] (f32) = A[64,256] x B[256,64] (f16) as a rapid_mem kernel on one core.
// dma0 loads A and B into LX; the MPE computes C in two 64x32 column tiles (loop "n"),
// each as k = 0..127 (mpe, overwriting) then k = 128..255 (accumulate); the SFU copies
// the accumulator to LX once the loop's last tile is done; dma1 stores C.
// Lower and run it:
//   rapid-opt gemm_64x256x64.mlir -p 'rapid-mem-allocate{machine=rapid-1c},convert-mem-to-isa{machine=rapid-1c}' -t rbin -o gemm.rbin
//   rapid-run gemm.rbin
func.func @gemm(%A: !rapid_mem.buffer<64x256xf16, dram>, %B: !rapid_mem.buffer<256x64xf16, dram>, %C: !rapid_mem.buffer<64x64xf32, dram>) {
  rapid_mem.kernel "gemm" cores 1 corelets 1 (%A, %B, %C) : !rapid_mem.buffer<64x256xf16, dram>, !rapid_mem.buffer<256x64xf16, dram>, !rapid_mem.buffer<64x64xf32, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x256xf16, dram>, %b: !rapid_mem.buffer<256x64xf16, dram>, %c: !rapid_mem.buffer<64x64xf32, dram>):
    %la = rapid_mem.alloc : !rapid_mem.buffer<64x256xf16, lx>
    %lb = rapid_mem.alloc : !rapid_mem.buffer<256x64xf16, lx>
    %lc = rapid_mem.alloc : !rapid_mem.buffer<64x64xf32, lx>
    %t0 = rapid_mem.dma queue 0 %la <offset 0, dims {64:256, 256:1}>, %a <offset 0, dims {64:256, 256:1}> after() : !rapid_mem.buffer<64x256xf16, lx>, !rapid_mem.buffer<64x256xf16, dram>
    %t1 = rapid_mem.dma queue 0 %lb <offset 0, dims {256:64, 64:1}>, %b <offset 0, dims {256:64, 64:1}> after() : !rapid_mem.buffer<256x64xf16, lx>, !rapid_mem.buffer<256x64xf16, dram>
    rapid_mem.corelet 0 {
      %acc = rapid_mem.alloc : !rapid_mem.buffer<64x64xf32, acc>
      %r = rapid_mem.ready
      %done = rapid_mem.loop "n" 2 carry(%r) -> !rapid_mem.token {
      ^bb0(%prev: !rapid_mem.token):
        %m0 = rapid_mem.mpe %acc <offset 0, loops {n: 32}, dims {1:0, 64:64, 32:1}>, %la <offset 0, dims {1:0, 64:256, 128:1}>, %lb <offset 0, loops {n: 32}, dims {128:64, 32:1}> after(%t0, %t1, %prev) : !rapid_mem.buffer<64x64xf32, acc>, !rapid_mem.buffer<64x256xf16, lx>, !rapid_mem.buffer<256x64xf16, lx>
        %m1 = rapid_mem.mpe %acc <offset 0, loops {n: 32}, dims {1:0, 64:64, 32:1}> accumulate, %la <offset 128, dims {1:0, 64:256, 128:1}>, %lb <offset 8192, loops {n: 32}, dims {128:64, 32:1}> after(%m0) : !rapid_mem.buffer<64x64xf32, acc>, !rapid_mem.buffer<64x256xf16, lx>, !rapid_mem.buffer<256x64xf16, lx>
        rapid_mem.next %m1
      }
      %cp = rapid_mem.sfu "copy" (%lc, %acc) accesses [#rapid_mem.access<offset 0, dims {64:64, 64:1}>, #rapid_mem.access<offset 0, dims {64:64, 64:1}>] imms [] after(%done) : !rapid_mem.buffer<64x64xf32, lx>, !rapid_mem.buffer<64x64xf32, acc>
      %st = rapid_mem.dma queue 1 %c <offset 0, dims {64:64, 64:1}>, %lc <offset 0, dims {64:64, 64:1}> after(%cp) : !rapid_mem.buffer<64x64xf32, dram>, !rapid_mem.buffer<64x64xf32, lx>
    }
  }
  func.return
}
