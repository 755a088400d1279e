// Every rapid_mem op in custom syntax; the generic form round-trips to the same text.
// RUN: rapid-opt %s | filecheck %s
// RUN: %roundtrip | filecheck %s

func.func @f(%A: !rapid_mem.buffer<64x256xf16, dram>, %B: !rapid_mem.buffer<256x64xf16, dram>, %C: !rapid_mem.buffer<64x64xf32, dram>) {
  rapid_mem.kernel "mm" cores 1 corelets 2 (%A, %B, %C) : !rapid_mem.buffer<64x256xf16, dram>, !rapid_mem.buffer<256x64xf16, dram>, !rapid_mem.buffer<64x64xf32, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x256xf16, dram>, %b: !rapid_mem.buffer<256x64xf16, dram>, %c: !rapid_mem.buffer<64x64xf32, dram>):
    %la = rapid_mem.alloc : !rapid_mem.buffer<64x256xf16, lx>
    %lb = rapid_mem.alloc at 32768 : !rapid_mem.buffer<256x64xf16, lx>
    %lc = rapid_mem.alloc : !rapid_mem.buffer<64x64xf32, lx>
    %lw = rapid_mem.alloc at 65536 resident "main/w/0/corelet0" : !rapid_mem.buffer<16x16xf16, lx>
    %t0 = rapid_mem.dma queue 0 %la <offset 0, dims {64:256, 256:1}>, %a <offset 0, dims {64:256, 256:1}> after() : !rapid_mem.buffer<64x256xf16, lx>, !rapid_mem.buffer<64x256xf16, dram>
    %t1 = rapid_mem.dma queue 0 %lb <offset 0, dims {256:64, 64:1}>, %b <offset 0, dims {256:64, 64:1}> after() : !rapid_mem.buffer<256x64xf16, lx>, !rapid_mem.buffer<256x64xf16, dram>
    rapid_mem.corelet 0 {
      %acc = rapid_mem.alloc : !rapid_mem.buffer<64x64xf32, acc>
      %r = rapid_mem.ready
      %done = rapid_mem.loop "k" 2 carry(%r) -> !rapid_mem.token {
      ^bb0(%prev: !rapid_mem.token):
        %m = rapid_mem.mpe %acc <offset 0, dims {1:0, 64:64, 64:1}> accumulate, %la <offset 0, loops {k: 128}, dims {1:0, 64:256, 128:1}>, %lb <offset 0, loops {k: 8192}, dims {128:64, 64:1}> after(%t0, %t1, %prev) : !rapid_mem.buffer<64x64xf32, acc>, !rapid_mem.buffer<64x256xf16, lx>, !rapid_mem.buffer<256x64xf16, lx>
        rapid_mem.next %m
      }
      %s = rapid_mem.sfu "copy" (%lc, %acc) accesses [#rapid_mem.access<offset 0, dims {64:64, 64:1}>, #rapid_mem.access<offset 0, dims {64:64, 64:1}>] imms [] after(%done) : !rapid_mem.buffer<64x64xf32, lx>, !rapid_mem.buffer<64x64xf32, acc>
    }
  }
  func.return
}

// CHECK:   func.func @f(%A: !rapid_mem.buffer<64x256xf16, dram>, %B: !rapid_mem.buffer<256x64xf16, dram>, %C: !rapid_mem.buffer<64x64xf32, dram>) {
// CHECK-NEXT:     rapid_mem.kernel "mm" cores 1 corelets 2(%A, %B, %C) : !rapid_mem.buffer<64x256xf16, dram>, !rapid_mem.buffer<256x64xf16, dram>, !rapid_mem.buffer<64x64xf32, dram> {
// CHECK-NEXT:     ^bb0(%a: !rapid_mem.buffer<64x256xf16, dram>, %b: !rapid_mem.buffer<256x64xf16, dram>, %c: !rapid_mem.buffer<64x64xf32, dram>):
// CHECK-NEXT:       %la = rapid_mem.alloc : !rapid_mem.buffer<64x256xf16, lx>
// CHECK-NEXT:       %lb = rapid_mem.alloc at 32768 : !rapid_mem.buffer<256x64xf16, lx>
// CHECK-NEXT:       %lc = rapid_mem.alloc : !rapid_mem.buffer<64x64xf32, lx>
// CHECK-NEXT:       %lw = rapid_mem.alloc at 65536 resident "main/w/0/corelet0" : !rapid_mem.buffer<16x16xf16, lx>
// CHECK-NEXT:       %t0 = rapid_mem.dma queue 0 %la <offset 0, dims {64:256, 256:1}>, %a <offset 0, dims {64:256, 256:1}> after() : !rapid_mem.buffer<64x256xf16, lx>, !rapid_mem.buffer<64x256xf16, dram>
// CHECK-NEXT:       %t1 = rapid_mem.dma queue 0 %lb <offset 0, dims {256:64, 64:1}>, %b <offset 0, dims {256:64, 64:1}> after() : !rapid_mem.buffer<256x64xf16, lx>, !rapid_mem.buffer<256x64xf16, dram>
// CHECK-NEXT:       rapid_mem.corelet 0 {
// CHECK-NEXT:         %acc = rapid_mem.alloc : !rapid_mem.buffer<64x64xf32, acc>
// CHECK-NEXT:         %r = rapid_mem.ready
// CHECK-NEXT:         %done = rapid_mem.loop "k" 2 carry(%r) -> !rapid_mem.token {
// CHECK-NEXT:         ^bb0(%prev: !rapid_mem.token):
// CHECK-NEXT:           %m = rapid_mem.mpe %acc <offset 0, dims {1:0, 64:64, 64:1}> accumulate, %la <offset 0, loops {k: 128}, dims {1:0, 64:256, 128:1}>, %lb <offset 0, loops {k: 8192}, dims {128:64, 64:1}> after(%t0, %t1, %prev) : !rapid_mem.buffer<64x64xf32, acc>, !rapid_mem.buffer<64x256xf16, lx>, !rapid_mem.buffer<256x64xf16, lx>
// CHECK-NEXT:           rapid_mem.next %m
// CHECK-NEXT:         }
// CHECK-NEXT:         %s = rapid_mem.sfu "copy"(%lc, %acc) accesses [#rapid_mem.access<offset 0, dims {64:64, 64:1}>, #rapid_mem.access<offset 0, dims {64:64, 64:1}>] imms [] after(%done) : !rapid_mem.buffer<64x64xf32, lx>, !rapid_mem.buffer<64x64xf32, acc>
// CHECK-NEXT:       }
// CHECK-NEXT:     }
// CHECK-NEXT:     func.return
// CHECK-NEXT:   }

// A region for some of the kernel's cores (the last core of an uneven split): its core
// coefficient is checked on cores 3..3 only (3 * 2 + 2 columns fit the 8).
func.func @g(%A: !rapid_mem.buffer<8x8xf16, dram>) {
  rapid_mem.kernel "k" cores 4 corelets 1 (%A) : !rapid_mem.buffer<8x8xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<8x8xf16, dram>):
    rapid_mem.corelet 0 cores 3 to 3 {
      %l = rapid_mem.alloc : !rapid_mem.buffer<8x2xf16, lx>
      %t = rapid_mem.dma queue 0 %l <offset 0, dims {8:2, 2:1}>, %a <offset 0, core 2, dims {8:8, 2:1}> after() : !rapid_mem.buffer<8x2xf16, lx>, !rapid_mem.buffer<8x8xf16, dram>
    }
  }
  func.return
}

// CHECK:      func.func @g(
// CHECK:          rapid_mem.corelet 0 cores 3 to 3 {
// CHECK-NEXT:       %l = rapid_mem.alloc : !rapid_mem.buffer<8x2xf16, lx>
// CHECK:      func.return
// CHECK-NEXT:   }
// CHECK-NEXT: }
