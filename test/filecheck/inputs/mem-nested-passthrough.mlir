// A token handed on unchanged through two nested loops is its initial value: the store
// on dma1 waits once, before the loops, for the load on dma0.
func.func @main(%x: !rapid_mem.buffer<8xf16, dram> {nn.name = "x"}, %y: !rapid_mem.buffer<8xf16, dram> {nn.name = "y"}) {
  rapid_mem.kernel "k" cores 1 corelets 1(%x, %y) : !rapid_mem.buffer<8xf16, dram>, !rapid_mem.buffer<8xf16, dram> {
  ^bb0(%a: !rapid_mem.buffer<8xf16, dram>, %b: !rapid_mem.buffer<8xf16, dram>):
    %l = rapid_mem.alloc : !rapid_mem.buffer<8xf16, lx>
    %ld = rapid_mem.dma queue 0 %l <offset 0, dims {8:1}>, %a <offset 0, dims {8:1}> after() : !rapid_mem.buffer<8xf16, lx>, !rapid_mem.buffer<8xf16, dram>
    %o = rapid_mem.loop "i" 2 carry(%ld) -> !rapid_mem.token {
    ^bb1(%t: !rapid_mem.token):
      %p = rapid_mem.loop "j" 2 carry(%t) -> !rapid_mem.token {
      ^bb2(%u: !rapid_mem.token):
        %d = rapid_mem.dma queue 1 %b <offset 0, dims {8:1}>, %l <offset 0, dims {8:1}> after(%u) : !rapid_mem.buffer<8xf16, dram>, !rapid_mem.buffer<8xf16, lx>
        rapid_mem.next %u
      }
      rapid_mem.next %p
    }
  }
  func.return
}
