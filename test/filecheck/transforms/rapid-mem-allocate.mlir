// rapid-mem-allocate: LX buffers packed and stick-aligned, ACC per corelet; overflow is an error.
// Resident buffers (a weight kept in LX across kernels) get one offset per key at the top of
// LX, reserved from the first kernel with the key to the last; keys whose spans overlap
// stack; the kernels in a span pack below the reserved bytes.
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

// -----

func.func @kept(%A: !rapid_mem.buffer<64xf16, dram>) {
  rapid_mem.kernel "first" cores 1 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %w = rapid_mem.alloc resident "w" : !rapid_mem.buffer<100xf16, lx>
    %x = rapid_mem.alloc : !rapid_mem.buffer<64xf16, lx>
  }
  rapid_mem.kernel "between" cores 1 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %v = rapid_mem.alloc resident "v" : !rapid_mem.buffer<64xf16, lx>
    %y = rapid_mem.alloc : !rapid_mem.buffer<64xf16, lx>
  }
  rapid_mem.kernel "last" cores 1 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %w2 = rapid_mem.alloc resident "w" : !rapid_mem.buffer<100xf16, lx>
  }
  rapid_mem.kernel "after" cores 1 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %z = rapid_mem.alloc : !rapid_mem.buffer<1048512xf16, lx>
  }
  func.return
}

// CHECK-LABEL: @kept
// CHECK:      %w = rapid_mem.alloc at 2096896 resident "w" : !rapid_mem.buffer<100xf16, lx>
// CHECK-NEXT: %x = rapid_mem.alloc at 0 : !rapid_mem.buffer<64xf16, lx>
// CHECK:      %v = rapid_mem.alloc at 2096768 resident "v" : !rapid_mem.buffer<64xf16, lx>
// CHECK-NEXT: %y = rapid_mem.alloc at 0 : !rapid_mem.buffer<64xf16, lx>
// CHECK:      %w2 = rapid_mem.alloc at 2096896 resident "w" : !rapid_mem.buffer<100xf16, lx>
// CHECK:      %z = rapid_mem.alloc at 0 : !rapid_mem.buffer<1048512xf16, lx>

// -----

func.func @crowded(%A: !rapid_mem.buffer<64xf16, dram>) {
  rapid_mem.kernel "first" cores 1 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %w = rapid_mem.alloc resident "w" : !rapid_mem.buffer<1024xf16, lx>
  }
  rapid_mem.kernel "big" cores 1 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %z = rapid_mem.alloc : !rapid_mem.buffer<1048000xf16, lx>
  }
  rapid_mem.kernel "last" cores 1 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    %w2 = rapid_mem.alloc resident "w" : !rapid_mem.buffer<1024xf16, lx>
  }
  func.return
}

// CHECK: rapid-mem-allocate: layer 'big': buffers need 2096000 bytes of LX but it holds 2095104 bytes (2048 bytes of it hold resident weights)

// -----

func.func @ranges(%A: !rapid_mem.buffer<64xf16, dram>) {
  rapid_mem.kernel "split" cores 4 corelets 1 (%A) : !rapid_mem.buffer<64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64xf16, dram>):
    rapid_mem.corelet 0 cores 0 to 2 {
      %w0 = rapid_mem.alloc resident "w/cores0-2" : !rapid_mem.buffer<1024xf16, lx>
    }
    rapid_mem.corelet 0 cores 3 to 3 {
      %w3 = rapid_mem.alloc resident "w/cores3-3" : !rapid_mem.buffer<512xf16, lx>
      %v3 = rapid_mem.alloc resident "v/cores3-3" : !rapid_mem.buffer<64xf16, lx>
    }
  }
  func.return
}

// Keys on disjoint core ranges share the top of LX; on a common core they stack.
// CHECK-LABEL: @ranges
// CHECK: %w0 = rapid_mem.alloc at 2095104 resident "w/cores0-2"
// CHECK: %w3 = rapid_mem.alloc at 2096128 resident "w/cores3-3"
// CHECK: %v3 = rapid_mem.alloc at 2096000 resident "v/cores3-3"
