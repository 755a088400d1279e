// The rapid_mem.view verifier, one case per error path.
// RUN: rapid-opt %s --split-input-file --verify-diagnostics | filecheck %s


func.func @count(%x: !rapid_mem.buffer<2x3xf16, dram>) {
  %v = rapid_mem.view %x : !rapid_mem.buffer<2x3xf16, dram> -> !rapid_mem.buffer<7xf16, dram>
  func.return
}
// CHECK: rapid_mem.view: !rapid_mem.buffer<2x3xf16, dram> and !rapid_mem.buffer<7xf16, dram> differ in element type or count

// -----

func.func @type(%x: !rapid_mem.buffer<6xf16, dram>) {
  %v = rapid_mem.view %x : !rapid_mem.buffer<6xf16, dram> -> !rapid_mem.buffer<6xf32, dram>
  func.return
}
// CHECK: rapid_mem.view: !rapid_mem.buffer<6xf16, dram> and !rapid_mem.buffer<6xf32, dram> differ in element type or count

// -----

func.func @window(%x: !rapid_mem.buffer<2x3xf16, dram>) {
  %v = rapid_mem.view %x offset 4 : !rapid_mem.buffer<2x3xf16, dram> -> !rapid_mem.buffer<3xf16, dram>
  func.return
}
// CHECK: rapid_mem.view: offset 4: !rapid_mem.buffer<3xf16, dram> is not within !rapid_mem.buffer<2x3xf16, dram> (elements 4 to 7 of 6, same element type)

// -----

func.func @space(%x: !rapid_mem.buffer<6xf16, dram>) {
  rapid_mem.kernel "k" cores 1 corelets 1 (%x) : !rapid_mem.buffer<6xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<6xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<6xf16, lx>
    %v = rapid_mem.view %l : !rapid_mem.buffer<6xf16, lx> -> !rapid_mem.buffer<2x3xf16, lx>
  }
  func.return
}
// CHECK: rapid_mem.view: views are of dram buffers, found !rapid_mem.buffer<6xf16, lx> -> !rapid_mem.buffer<2x3xf16, lx>

// -----

func.func @inside(%x: !rapid_mem.buffer<6xf16, dram>) {
  rapid_mem.kernel "k" cores 1 corelets 1 (%x) : !rapid_mem.buffer<6xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<6xf16, dram>):
    %v = rapid_mem.view %a : !rapid_mem.buffer<6xf16, dram> -> !rapid_mem.buffer<2x3xf16, dram>
  }
  func.return
}
// CHECK: rapid_mem.view: define views outside kernels
