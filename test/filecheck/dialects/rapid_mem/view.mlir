// rapid_mem.view: the same DRAM bytes in another shape (nn.reshape, nn.flatten on the
// device), or with an offset a run of them (a part of an outermost split). Custom syntax
// and the generic round trip; view-invalid.mlir has the errors.
// RUN: rapid-opt %s | filecheck %s
// RUN: %roundtrip | filecheck %s

func.func @f(%x: !rapid_mem.buffer<2x3x4xf16, dram>) {
  %v = rapid_mem.view %x : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<2x12xf16, dram>
  %w = rapid_mem.view %v : !rapid_mem.buffer<2x12xf16, dram> -> !rapid_mem.buffer<24xf16, dram>
  %r = rapid_mem.view %x offset 12 : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<3x4xf16, dram>
  %z = rapid_mem.view %x offset 0 : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<5xf16, dram>
  func.return
}

// CHECK:      %v = rapid_mem.view %x : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<2x12xf16, dram>
// CHECK-NEXT: %w = rapid_mem.view %v : !rapid_mem.buffer<2x12xf16, dram> -> !rapid_mem.buffer<24xf16, dram>
// CHECK-NEXT: %r = rapid_mem.view %x offset 12 : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<3x4xf16, dram>
// CHECK-NEXT: %z = rapid_mem.view %x offset 0 : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<5xf16, dram>
