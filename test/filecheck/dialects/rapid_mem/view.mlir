// rapid_mem.view: the same DRAM bytes in another shape (nn.reshape, nn.flatten on the
// device). Custom syntax and the generic round trip; view-invalid.mlir has the errors.
// RUN: rapid-opt %s | filecheck %s
// RUN: %roundtrip | filecheck %s

func.func @f(%x: !rapid_mem.buffer<2x3x4xf16, dram>) {
  %v = rapid_mem.view %x : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<2x12xf16, dram>
  %w = rapid_mem.view %v : !rapid_mem.buffer<2x12xf16, dram> -> !rapid_mem.buffer<24xf16, dram>
  func.return
}

// CHECK:      %v = rapid_mem.view %x : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<2x12xf16, dram>
// CHECK-NEXT: %w = rapid_mem.view %v : !rapid_mem.buffer<2x12xf16, dram> -> !rapid_mem.buffer<24xf16, dram>
