// Invalid rapid_mem.host ops (test/filecheck/dialects/rapid_mem/host.mlir checks the messages).

func.func @f(%x: !rapid_mem.buffer<2x4xf16, dram>, %y: !rapid_mem.buffer<2x4xf16, dram>) {
  rapid_mem.host "a" ins(%x : !rapid_mem.buffer<2x4xf16, dram>) outs(%y : !rapid_mem.buffer<2x4xf16, dram>) {
  ^bb0(%a: tensor<2x4xf32>, %b: tensor<2x4xf32>):
    rapid_mem.yield %a : tensor<2x4xf32>
  }
  func.return
}

// -----

func.func @f(%x: !rapid_mem.buffer<2x4xf16, dram>, %y: !rapid_mem.buffer<2x4xf16, dram>) {
  rapid_mem.host "b" ins(%x : !rapid_mem.buffer<2x4xf16, dram>) outs(%y : !rapid_mem.buffer<2x4xf16, dram>) {
  ^bb0(%a: tensor<2x4xf32>):
    %t = nn.transpose %a perm [1, 0] : (tensor<2x4xf32>) -> tensor<4x2xf32>
    rapid_mem.yield %t : tensor<4x2xf32>
  }
  func.return
}

// -----

func.func @f(%x: !rapid_mem.buffer<2x4xf16, dram>, %l: !rapid_mem.buffer<2x4xf16, lx>) {
  rapid_mem.host "c" ins(%x : !rapid_mem.buffer<2x4xf16, dram>) outs(%l : !rapid_mem.buffer<2x4xf16, lx>) {
  ^bb0(%a: tensor<2x4xf32>):
    rapid_mem.yield %a : tensor<2x4xf32>
  }
  func.return
}

// -----

func.func @f(%x: !rapid_mem.buffer<2x4xf16, dram>, %y: !rapid_mem.buffer<2x4xf16, dram>) {
  rapid_mem.host "d" ins(%x : !rapid_mem.buffer<2x4xf16, dram>) outs(%y : !rapid_mem.buffer<2x4xf16, dram>) {
  ^bb0(%a: tensor<2x4xf32>):
    rapid_mem.yield
  }
  func.return
}

// -----

func.func @f(%x: !rapid_mem.buffer<2x4xf16, dram>, %y: !rapid_mem.buffer<2x4xf16, dram>) {
  rapid_mem.kernel "k" cores 1 corelets 1 (%x, %y) : !rapid_mem.buffer<2x4xf16, dram>, !rapid_mem.buffer<2x4xf16, dram> {
  ^bb0(%d: !rapid_mem.buffer<2x4xf16, dram>, %e: !rapid_mem.buffer<2x4xf16, dram>):
    rapid_mem.host "e" ins(%d : !rapid_mem.buffer<2x4xf16, dram>) outs(%e : !rapid_mem.buffer<2x4xf16, dram>) {
    ^bb0(%a: tensor<2x4xf32>):
      rapid_mem.yield %a : tensor<2x4xf32>
    }
  }
  func.return
}
