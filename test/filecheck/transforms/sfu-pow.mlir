// nn.pow on the device: a non-integer exponent is log, scale by p, exp through an f32
// tile; a small integer exponent is multiplies (then recip for p < 0), exact for a
// negative base; an integer exponent beyond +-4 stays on the host.
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-4c}' | filecheck %s --check-prefix=TILE
// RUN: rapid-opt %s -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=MEM

func.func @pow(%x: tensor<2x4x6xf32> {nn.name = "x"}) -> (tensor<2x4x6xf32> {nn.name = "a"}, tensor<2x4x6xf32> {nn.name = "b"}, tensor<2x4x6xf32> {nn.name = "c"}, tensor<2x4x6xf32> {nn.name = "d"}) {
  %a = nn.pow %x exponent 0.75 {nn.name = "frac"} : tensor<2x4x6xf32>
  %b = nn.pow %x exponent -2.0 {nn.name = "inv_sq"} : tensor<2x4x6xf32>
  %c = nn.pow %x exponent 3.0 {nn.name = "cube"} : tensor<2x4x6xf32>
  %d = nn.pow %x exponent 5.0 {nn.name = "fifth"} : tensor<2x4x6xf32>
  func.return %a, %b, %c, %d : tensor<2x4x6xf32>, tensor<2x4x6xf32>, tensor<2x4x6xf32>, tensor<2x4x6xf32>
}

// TILE-LABEL: func.func @pow
// TILE:         rapid_tile.kernel "frac"
// TILE:           nn.pow %{{.*}} exponent 7.500000e-01
// TILE:         rapid_tile.kernel "inv_sq"
// TILE:         rapid_tile.kernel "cube"
// TILE:         %d = nn.pow %x exponent 5.000000e+00 {nn.name = "fifth"}
// TILE-NEXT:    func.return

// MEM-LABEL: func.func @pow
// MEM:         rapid_mem.kernel "frac" cores 4 corelets 2
// MEM:           rapid_mem.corelet 0 {
// MEM-NEXT:        %[[X:.*]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x6xf16, lx>
// MEM-NEXT:        %[[OUT:.*]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x6xf16, lx>
// MEM-NEXT:        %[[T:.*]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x6xf32, lx>
// MEM:             %[[LOG:.*]] = rapid_mem.sfu "log"(%[[T]], %[[X]]) {{.*}} imms []
// MEM-NEXT:        %[[SCALE:.*]] = rapid_mem.sfu "scale"(%[[T]], %[[T]]) {{.*}} imms [7.500000e-01 : f32, 0.000000e+00 : f32] after(%[[LOG]])
// MEM-NEXT:        %[[EXP:.*]] = rapid_mem.sfu "exp"(%[[OUT]], %[[T]]) {{.*}} after(%[[SCALE]])
// MEM-NEXT:        rapid_mem.dma queue 0 %{{.*}}, %[[OUT]] {{.*}} after(%[[EXP]])
// MEM:         rapid_mem.kernel "inv_sq" cores 4 corelets 2
// MEM:           rapid_mem.corelet 0 {
// MEM-NEXT:        %[[X:.*]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x6xf16, lx>
// MEM-NEXT:        %[[OUT:.*]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x6xf16, lx>
// MEM-NEXT:        %[[T:.*]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x6xf32, lx>
// MEM:             %[[SQ:.*]] = rapid_mem.sfu "mul"(%[[T]], %[[X]], %[[X]])
// MEM-NEXT:        %[[RECIP:.*]] = rapid_mem.sfu "recip"(%[[OUT]], %[[T]]) {{.*}} after(%[[SQ]])
// MEM-NEXT:        rapid_mem.dma queue 0 %{{.*}}, %[[OUT]] {{.*}} after(%[[RECIP]])
// MEM:         rapid_mem.kernel "cube" cores 4 corelets 2
// MEM:           rapid_mem.corelet 0 {
// MEM-NEXT:        %[[X:.*]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x6xf16, lx>
// MEM-NEXT:        %[[OUT:.*]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x6xf16, lx>
// MEM-NEXT:        %[[T:.*]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x6xf32, lx>
// MEM:             %[[SQ:.*]] = rapid_mem.sfu "mul"(%[[T]], %[[X]], %[[X]])
// MEM-NEXT:        %[[CUBE:.*]] = rapid_mem.sfu "mul"(%[[OUT]], %[[T]], %[[X]]) {{.*}} after(%[[SQ]])
// MEM-NEXT:        rapid_mem.dma queue 0 %{{.*}}, %[[OUT]] {{.*}} after(%[[CUBE]])
// MEM:         rapid_mem.host "fifth" ins(%x : !rapid_mem.buffer<2x4x6xf16, dram>) outs(%{{.*}} : !rapid_mem.buffer<2x4x6xf16, dram>)
// MEM:           nn.pow %{{.*}} exponent 5.000000e+00
// MEM-NOT:     sfu "log"
