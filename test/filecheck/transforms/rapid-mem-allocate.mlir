// rapid-mem-allocate: LX buffers packed and stick-aligned, ACC per corelet; overflow is an error.
// RUN: rapid-opt %s --split-input-file --verify-diagnostics -p 'rapid-mem-allocate{machine=rapid-1c}' | filecheck %s

func.func @k(%A: !rapid_mem.buffer<64xf16, dram>) {
  rapid_mem.kernel "k" cores 1 corelets 2 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %x = rapid_mem.alloc : !rapid_mem.buffer<3xf16, lx>
    %y = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    rapid_mem.corelet 0 {
      %c0 = rapid_mem.alloc : !rapid_mem.buffer<8x8xf32, acc>
      %c1 = rapid_mem.alloc : !rapid_mem.buffer<3xf32, acc>
      %c2 = rapid_mem.alloc : !rapid_mem.buffer<8xf32, acc>
    }
    rapid_mem.corelet 1 {
      %d0 = rapid_mem.alloc : !rapid_mem.buffer<8x8xf32, acc>
    }
  }
  func.return
}

// CHECK:      %x = rapid_mem.alloc at 0 : !rapid_mem.buffer<3xf16, lx>
// CHECK-NEXT: %y = rapid_mem.alloc at 128 : !rapid_mem.buffer<64x64xf16, lx>
// CHECK:      %c0 = rapid_mem.alloc at 0 : !rapid_mem.buffer<8x8xf32, acc>
// CHECK-NEXT: %c1 = rapid_mem.alloc at 256 : !rapid_mem.buffer<3xf32, acc>
// CHECK-NEXT: %c2 = rapid_mem.alloc at 268 : !rapid_mem.buffer<8xf32, acc>
// CHECK:      %d0 = rapid_mem.alloc at 0 : !rapid_mem.buffer<8x8xf32, acc>

// -----

func.func @full(%A: !rapid_mem.buffer<64xf16, dram>) {
  rapid_mem.kernel "full" cores 1 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %x = rapid_mem.alloc : !rapid_mem.buffer<1024x1024xf16, lx>
    %y = rapid_mem.alloc : !rapid_mem.buffer<64xf16, lx>
  }
  func.return
}

// CHECK: rapid-mem-allocate: layer 'full': buffers need 2097280 bytes of LX but it holds 2097152 bytes
