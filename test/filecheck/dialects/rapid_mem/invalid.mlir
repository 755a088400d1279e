// The rapid_mem verifiers, one case per error path.
// RUN: rapid-opt %s --split-input-file --verify-diagnostics | filecheck %s

// a buffer dimension below 1
func.func @f(%A: !rapid_mem.buffer<0x4xf16, dram>) {
  
  func.return
}
// CHECK: rapid_mem.buffer: dimensions must be >= 1, found [0, 4]

// -----

// a buffer of another element type
func.func @f(%A: !rapid_mem.buffer<4xi32, dram>) {
  
  func.return
}
// CHECK: rapid_mem.buffer: element type must be f16 or f32, found i32

// -----

// an f16 accumulator
func.func @f(%A: !rapid_mem.buffer<4xf16, acc>) {
  
  func.return
}
// CHECK: rapid_mem.buffer: acc buffers hold f32

// -----

// kernel buffers outside DRAM
func.func @f(%A: !rapid_mem.buffer<4xf16, lx>) {
  rapid_mem.kernel "k" cores 1 corelets 1 (%A) : !rapid_mem.buffer<4xf16, lx> {
  ^bb0(%a: !rapid_mem.buffer<4xf16, lx>):
  }
  func.return
}
// CHECK: rapid_mem.kernel 'k': kernel buffers are in dram, found !rapid_mem.buffer<4xf16, lx>

// -----

// kernel body arguments differ
func.func @f(%A: !rapid_mem.buffer<4xf16, dram>) {
  rapid_mem.kernel "k" cores 1 corelets 1 (%A) : !rapid_mem.buffer<4xf16, dram> {
  ^bb0:
  }
  func.return
}
// CHECK: rapid_mem.kernel 'k': the body's arguments () differ from the kernel's buffers

// -----

// corelet index out of range
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    rapid_mem.corelet 2 {
      %t = rapid_mem.ready
    }
  }
  func.return
}
// CHECK: rapid_mem.corelet: index 2 but the kernel has 2 corelets

// -----

// a corelet region for cores the kernel does not run on
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 1 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    rapid_mem.corelet 0 cores 1 to 2 {
      %t = rapid_mem.ready
    }
  }
  func.return
}
// CHECK: rapid_mem.corelet: cores 1 to 2 but the kernel runs on cores 0 to 1

// -----

// a first core without a last one
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 1 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    "rapid_mem.corelet"() <{index = 0 : i64, first_core = 1 : i64}> ({
      %t = rapid_mem.ready
    }) : () -> ()
  }
  func.return
}
// CHECK: rapid_mem.corelet: give both the first and the last core, or neither

// -----

// a core coefficient that leaves the buffer on the region's last core (core 3: 3 * 2 + 4 > 8)
func.func @f(%A: !rapid_mem.buffer<8x8xf16, dram>) {
  rapid_mem.kernel "k" cores 4 corelets 1 (%A) : !rapid_mem.buffer<8x8xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<8x8xf16, dram>):
    rapid_mem.corelet 0 cores 0 to 3 {
      %l = rapid_mem.alloc : !rapid_mem.buffer<8x4xf16, lx>
      %t = rapid_mem.dma queue 0 %l <offset 0, dims {8:4, 4:1}>, %a <offset 0, core 2, dims {8:8, 4:1}> after() : !rapid_mem.buffer<8x4xf16, lx>, !rapid_mem.buffer<8x8xf16, dram>
    }
  }
  func.return
}
// CHECK: rapid_mem.dma: src access reaches elements [0, 65] but the buffer !rapid_mem.buffer<8x8xf16, dram> has 64

// -----

// loop count below 1
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    rapid_mem.loop "i" 0 carry() -> {
      rapid_mem.next
    }
  }
  func.return
}
// CHECK: rapid_mem.loop 'i': count must be >= 1

// -----

// a loop whose next gives fewer tokens than it carries
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %r = rapid_mem.ready
    %d = rapid_mem.loop "i" 2 carry(%r) -> !rapid_mem.token {
    ^bb0(%p: !rapid_mem.token):
      rapid_mem.next
    }
  }
  func.return
}
// CHECK: rapid_mem.loop 'i': the body must end with rapid_mem.next of 1 tokens

// -----

// a loop label reused inside
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    rapid_mem.loop "i" 2 carry() -> {
      rapid_mem.loop "i" 2 carry() -> {
        rapid_mem.next
      }
      rapid_mem.next
    }
  }
  func.return
}
// CHECK: rapid_mem.loop 'i': the label is used by an enclosing loop

// -----

// allocating DRAM
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<4xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.alloc: DRAM buffers are the kernel's arguments, not allocated

// -----

// an acc buffer outside a corelet
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<4xf32, acc>
  }
  func.return
}
// CHECK: rapid_mem.alloc: an acc buffer belongs to a corelet; allocate it inside rapid_mem.corelet

// -----

// a resident buffer that is not in LX
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    rapid_mem.corelet 0 {
      %l = rapid_mem.alloc resident "w" : !rapid_mem.buffer<4xf32, acc>
    }
  }
  func.return
}
// CHECK: rapid_mem.alloc: resident "w" is for LX buffers, found a acc buffer

// -----

// an access with no dimensions
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    %t = rapid_mem.dma queue 0 %l <offset 0, dims {}>, %a <offset 0, dims {}> after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.access: 0 dimensions, expected 1 to 4

// -----

// an access with a size below 1
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    %t = rapid_mem.dma queue 0 %l <offset 0, dims {0:1}>, %a <offset 0, dims {0:1}> after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.access: sizes must be >= 1, found [0]

// -----

// pads for the wrong number of dimensions
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    %t = rapid_mem.dma queue 0 %l <offset 0, dims {8:1}>, %a <offset 0, dims {8:1}, pads {1:1, 0:0}> after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.access: 2 pads for 1 dimensions

// -----

// an access stepping with a loop that does not enclose it
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    %t = rapid_mem.dma queue 0 %l <offset 0, loops {j: 64}, dims {64:1}>, %a <offset 0, dims {64:1}> after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.dma: dst access steps with loop 'j' but no enclosing loop has that label

// -----

// an access past the buffer over the loop's iterations
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    rapid_mem.loop "i" 65 carry() -> {
      %t = rapid_mem.dma queue 0 %l <offset 0, loops {i: 64}, dims {64:1}>, %a <offset 0, dims {64:1}> after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, dram>
      rapid_mem.next
    }
  }
  func.return
}
// CHECK: rapid_mem.dma: dst access reaches elements [0, 4159] but the buffer !rapid_mem.buffer<64x64xf16, lx> has 4096

// -----

// an access past the buffer over the cores
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    %t = rapid_mem.dma queue 0 %l <offset 0, dims {64:64, 64:1}>, %a <offset 0, core 64, dims {64:64, 64:1}> after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.dma: src access reaches elements [0, 4159] but the buffer !rapid_mem.buffer<64x64xf16, dram> has 4096

// -----

// a DMA from DRAM to DRAM
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %t = rapid_mem.dma queue 0 %a <offset 0, dims {64:1}>, %a <offset 64, dims {64:1}> after() : !rapid_mem.buffer<64x64xf16, dram>, !rapid_mem.buffer<64x64xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.dma: copies DRAM<->LX or LX->LX, not dram->dram

// -----

// a DMA between element types
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64xf32, lx>
    %t = rapid_mem.dma queue 0 %l <offset 0, dims {64:1}>, %a <offset 0, dims {64:1}> after() : !rapid_mem.buffer<64xf32, lx>, !rapid_mem.buffer<64x64xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.dma: dst and src element types differ

// -----

// DMA shapes differ
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    %t = rapid_mem.dma queue 0 %l <offset 0, dims {32:1}>, %a <offset 0, dims {64:1}> after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.dma: dst shape [32] differs from src shape [64]

// -----

// a padded DMA destination
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    %t = rapid_mem.dma queue 0 %l <offset 0, dims {64:1}, pads {1:0}>, %a <offset 0, dims {64:1}> after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.dma: only the source access can be padded

// -----

// MPE operands in the wrong spaces
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    rapid_mem.corelet 0 {
      %t = rapid_mem.mpe %l <offset 0, dims {1:0, 8:8, 8:1}>, %l <offset 0, dims {1:0, 8:8, 8:1}>, %l <offset 0, dims {8:8, 8:1}> after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, lx>
    }
  }
  func.return
}
// CHECK: rapid_mem.mpe: c must be in acc, a and b in lx

// -----

// MPE operands of f32
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf32, lx>
    rapid_mem.corelet 0 {
      %c = rapid_mem.alloc : !rapid_mem.buffer<64xf32, acc>
      %t = rapid_mem.mpe %c <offset 0, dims {1:0, 8:8, 8:1}>, %l <offset 0, dims {1:0, 8:8, 8:1}>, %l <offset 0, dims {8:8, 8:1}> after() : !rapid_mem.buffer<64xf32, acc>, !rapid_mem.buffer<64x64xf32, lx>, !rapid_mem.buffer<64x64xf32, lx>
    }
  }
  func.return
}
// CHECK: rapid_mem.mpe: a and b must be f16

// -----

// MPE shapes that do not form a product
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    rapid_mem.corelet 0 {
      %c = rapid_mem.alloc : !rapid_mem.buffer<64xf32, acc>
      %t = rapid_mem.mpe %c <offset 0, dims {1:0, 8:8, 8:1}>, %l <offset 0, dims {1:0, 8:8, 4:1}>, %l <offset 0, dims {8:8, 8:1}> after() : !rapid_mem.buffer<64xf32, acc>, !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, lx>
    }
  }
  func.return
}
// CHECK: rapid_mem.mpe: shapes c [1, 8, 8], a [1, 8, 4], b [8, 8] do not form c[mo,mi,n] = a[mo,mi,k] x b[k,n]

// -----

// an unknown SFU kind
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    rapid_mem.corelet 0 {
      %t = rapid_mem.sfu "gelu" (%l) accesses [#rapid_mem.access<offset 0, dims {8:1}>] imms [] after() : !rapid_mem.buffer<64x64xf16, lx>
    }
  }
  func.return
}
// CHECK: rapid_mem.sfu: unknown kind 'gelu' (kinds: copy, relu, sigmoid, tanh, exp, erf, sqrt, recip, clip, scale, log, add, sub, mul, div, max, min, fma, rsum, rmax, maxpool, avgpool)

// -----

// SFU buffers and accesses differ in number
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    rapid_mem.corelet 0 {
      %t = rapid_mem.sfu "relu" (%l, %l) accesses [#rapid_mem.access<offset 0, dims {8:1}>] imms [] after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, lx>
    }
  }
  func.return
}
// CHECK: rapid_mem.sfu: 2 buffers but 1 accesses

// -----

// an SFU operand in DRAM
func.func @f(%A: !rapid_mem.buffer<64x64xf16, dram>) {
  rapid_mem.kernel "k" cores 2 corelets 2 (%A) : !rapid_mem.buffer<64x64xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x64xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
    rapid_mem.corelet 0 {
      %t = rapid_mem.sfu "relu" (%l, %a) accesses [#rapid_mem.access<offset 0, dims {8:1}>, #rapid_mem.access<offset 0, dims {8:1}>] imms [] after() : !rapid_mem.buffer<64x64xf16, lx>, !rapid_mem.buffer<64x64xf16, dram>
    }
  }
  func.return
}
// CHECK: rapid_mem.sfu: operands are in lx or acc, not dram
