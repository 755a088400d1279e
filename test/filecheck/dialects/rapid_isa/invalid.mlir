// One case per legality rule of rapid ISA instructions and streams (isa_check.py),
// reported through the rapid_isa dialect's verifiers.
// RUN: rapid-opt %s --split-input-file --verify-diagnostics | filecheck %s
// instruction in the wrong engine's stream
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.dma_copy lx[0x0] f16 {8:1}, dram[0x0] f16 {8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.dma_copy: dma.copy: runs on dma streams, not in stream sfu0

// -----

// register out of range
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.li r16, 3
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.li: li: register r16 is out of range r0..r15

// -----

// r0 is read-only
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.addi r0, r1, 3
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.addi: addi: r0 always reads 0 and cannot be written

// -----

// semaphore out of range
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.wait s256
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.wait: wait: semaphore s256 is out of range s0..s255

// -----

// signal to a core the machine lacks
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.signal s0 core 4
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.signal: signal: core 4 is out of range 0..3

// -----

// too many dimensions
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_relu lx[0x0] f16 {1:1, 1:1, 1:1, 1:1, 1:1}, lx[0x0] f16 {1:1, 1:1, 1:1, 1:1, 1:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_relu: sfu.relu: operand 'dst' has 5 dimensions but 1 to 4 are allowed

// -----

// zero-size dimension
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_relu lx[0x0] f16 {0:1}, lx[0x0] f16 {0:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_relu: sfu.relu: operand 'dst' dimension 0 has size 0 but must be >= 1

// -----

// base register out of range
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_relu lx[r20] f16 {8:1}, lx[0x0] f16 {8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_relu: sfu.relu: operand 'dst' uses r20 but the machine has r0..r15

// -----

// pads for the wrong number of dimensions
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.dma_copy lx[0x0] f16 {8:1}, dram[0x0] f16 {8:1} pad {1:1, 0:0}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.dma_copy: dma.copy: operand 'src' has 2 pads for 1 dimensions

// -----

// pads larger than the dimension
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.dma_copy lx[0x0] f16 {8:1}, dram[0x0] f16 {8:1} pad {5:4}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.dma_copy: dma.copy: operand 'src' dimension 0 pads 5:4 do not fit its size 8

// -----

// remote core out of range
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.dma_copy remote 7 lx[0x0] f16 {8:1}, lx[0x0] f16 {8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.dma_copy: dma.copy: operand 'dst' names core 7 but the machine has cores 0..3

// -----

// static address out of bounds
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.dma_copy lx[0x1ffff0] f16 {16:1}, dram[0x0] f16 {16:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.dma_copy: dma.copy: operand 'dst' touches bytes [2097136, 2097168) of lx but it has 2097152 bytes

// -----

// negative stride below address 0
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_relu lx[0x0] f16 {2:-1}, lx[0x0] f16 {2:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_relu: sfu.relu: operand 'dst' touches bytes [-2, 2) of lx but it has 2097152 bytes

// -----

// SFU operand in DRAM
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_relu dram[0x0] f16 {8:1}, lx[0x0] f16 {8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_relu: sfu.relu: operand 'dst' is in dram but must be in lx or acc

// -----

// MPE accumulator must be f32
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "mpe0" {
      rapid_isa.mpe_mm acc[0x0] f16 {1:0, 8:8, 8:1}, lx[0x0] f16 {1:0, 8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.mpe_mm: mpe.mm: operand 'c' has type f16 but must be f32

// -----

// MPE rank
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "mpe0" {
      rapid_isa.mpe_mm acc[0x0] f32 {8:8, 8:1}, lx[0x0] f16 {1:0, 8:8, 8:1}, lx[0x100] f16 {8:8, 8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.mpe_mm: mpe.mm: operand 'c' has 2 dimensions but must have 3

// -----

// remote pattern outside a DMA destination
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_relu lx[0x0] f16 {8:1}, remote 1 lx[0x0] f16 {8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_relu: sfu.relu: operand 'src' cannot name another core (only a DMA destination can)

// -----

// shape mismatch
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_add lx[0x0] f16 {8:1}, lx[0x10] f16 {8:1}, lx[0x20] f16 {4:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_add: sfu.add: operand 'b' has shape [4] but 'dst' has [8]

// -----

// DRAM to DRAM
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.dma_copy dram[0x0] f16 {8:1}, dram[0x100] f16 {8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.dma_copy: dma.copy: copies between DRAM and LX or from LX to LX, not DRAM to DRAM

// -----

// remote destination needs an LX source
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.dma_copy remote 1 lx[0x0] f16 {8:1}, dram[0x0] f16 {8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.dma_copy: dma.copy: a remote destination lx@core needs an LX source

// -----

// DMA element types differ
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.dma_copy lx[0x0] f32 {8:1}, dram[0x0] f16 {8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.dma_copy: dma.copy: dst has type f32 but src has f16

// -----

// MPE rows
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "mpe0" {
      rapid_isa.mpe_mm acc[0x0] f32 {1:0, 8:8, 8:1}, lx[0x0] f16 {1:0, 4:8, 8:1}, lx[0x100] f16 {8:8, 8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.mpe_mm: mpe.mm: a has rows 1x4 but c has 1x8

// -----

// MPE k
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "mpe0" {
      rapid_isa.mpe_mm acc[0x0] f32 {1:0, 8:8, 8:1}, lx[0x0] f16 {1:0, 8:8, 8:1}, lx[0x100] f16 {4:8, 8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.mpe_mm: mpe.mm: a has k = 8 but b has k = 4

// -----

// MPE n
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "mpe0" {
      rapid_isa.mpe_mm acc[0x0] f32 {1:0, 8:8, 8:1}, lx[0x0] f16 {1:0, 8:8, 8:1}, lx[0x100] f16 {8:8, 4:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.mpe_mm: mpe.mm: b has n = 4 but c has n = 8

// -----

// L0 A overflow
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "mpe0" {
      rapid_isa.mpe_mm acc[0x0] f32 {1:0, 128:64, 64:1}, lx[0x0] f16 {1:0, 128:128, 128:1}, lx[0x20000] f16 {128:64, 64:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.mpe_mm: mpe.mm: the A tile 128x128 needs 32768 bytes but L0 A holds 16384

// -----

// L0 B overflow
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "mpe0" {
      rapid_isa.mpe_mm acc[0x0] f32 {1:0, 8:256, 256:1}, lx[0x0] f16 {1:0, 8:64, 64:1}, lx[0x20000] f16 {64:256, 256:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.mpe_mm: mpe.mm: the B tile 64x256 needs 32768 bytes but L0 B holds 16384

// -----

// reduction result shape
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_rsum lx[0x0] f32 {8:1}, acc[0x0] f32 {8:8, 8:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_rsum: sfu.rsum: dst has shape [8] but reducing src [8, 8] over its innermost dimension gives [8, 1]

// -----

// pooling window
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_maxpool lx[0x0] f16 {8:1}, lx[0x0] f16 {8:1}, {2:1, 2:1, 2:1}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_maxpool: sfu.maxpool: window [(2, 1), (2, 1), (2, 1)] must have 1 or 2 dimensions of size >= 1

// -----

// a stream the machine does not have
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma5" {
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.stream: core 0 stream dma5: the machine has no stream 'dma5' (streams: dma0, dma1, mpe0, sfu0, mpe1, sfu1)

// -----

// a core the machine does not have
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 4 {
    rapid_isa.stream "dma0" {
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.stream: core 4 stream dma0: the machine has cores 0..3

// -----

// loop body past the end
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.loop 2, 3
      rapid_isa.nop
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.stream: core 0 stream dma0, instruction 0: loop body of 3 instructions runs past the end of the stream

// -----

// loop body ending after its enclosing loop's
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.loop 2, 2
      rapid_isa.loop 2, 2
      rapid_isa.nop
      rapid_isa.nop
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.stream: core 0 stream dma0, instruction 1: loop body ends after its enclosing loop's

// -----

// loops nested too deep
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.loop 2, 5
      rapid_isa.loop 2, 4
      rapid_isa.loop 2, 3
      rapid_isa.loop 2, 2
      rapid_isa.loop 2, 1
      rapid_isa.nop
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.stream: core 0 stream dma0, instruction 4: loops nest 5 deep but the machine allows 4

// -----

// no halt at the end
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "dma0" {
      rapid_isa.nop
    }
  }
}
// CHECK: rapid_isa.stream: core 0 stream dma0: the stream must end with halt

// -----

// an unknown machine
rapid_isa.program machine "rapid-9c" {
  rapid_isa.tensor "input" "x" "f16" [4] at 0
}
// CHECK: rapid_isa.program: machine 'rapid-9c': {{.*}}rapid-9c{{.*}}

// -----

// a tensor kind other than input/output
rapid_isa.program machine "rapid-4c" {
  rapid_isa.tensor "weights" "x" "f16" [4] at 0
}
// CHECK: rapid_isa.tensor: kind must be input or output but is 'weights'

// -----

// a tensor element type other than f16/f32
rapid_isa.program machine "rapid-4c" {
  rapid_isa.tensor "input" "x" "i8" [4] at 0
}
// CHECK: rapid_isa.tensor: dtype must be f16 or f32 but is 'i8'

// -----

// pooling windows that reach past the end of LX
rapid_isa.program machine "rapid-4c" {
  rapid_isa.core 0 {
    rapid_isa.stream "sfu0" {
      rapid_isa.sfu_maxpool lx[0x0] f16 {4:1}, lx[0x1ffff0] f16 {4:1}, {3:4}
      rapid_isa.halt
    }
  }
}
// CHECK: rapid_isa.sfu_maxpool: sfu.maxpool: operand 'src' with its window touches bytes [2097136, 2097160) of lx but it has 2097152 bytes

// -----

// data with neither a weight file nor values
rapid_isa.program machine "rapid-4c" {
  rapid_isa.data "w" "f16" [2] at 0
}
// CHECK: rapid_isa.data 'w': give exactly one of 'from' (a weight file) and 'value'

// -----

// data values of another shape
rapid_isa.program machine "rapid-4c" {
  rapid_isa.data "w" "f16" [3] at 0 value dense<[1.0, 2.0]> : tensor<2xf32>
}
// CHECK: rapid_isa.data 'w': value has shape [2] but the data is [3]
