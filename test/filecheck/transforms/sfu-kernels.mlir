// SFU layers: convert-nn-to-tile gives each its own kernel and mapping (a relu after an add
// or a batch norm joins it); convert-tile-to-mem streams LX tiles through the SFU;
// reshape and flatten become DRAM views.
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c}' | filecheck %s --check-prefix=TILE
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=MEM
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c mapping-file="%inputs/sfu-layers.json"},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=PINNED
// RUN: not rapid-opt %inputs/sfu-errors.mlir --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}' 2>&1 | filecheck %s --check-prefix=DIMS
// RUN: not rapid-opt %inputs/sfu-errors.mlir --split-input-file -p 'convert-nn-to-tile{machine="%inputs/tiny-lx.toml"}' 2>&1 | filecheck %s --check-prefix=NOFIT

func.func @residual(%x: tensor<1x16x14x14xf32> {nn.name = "x"}, %y: tensor<1x16x14x14xf32> {nn.name = "y"}) -> (tensor<1x16x14x14xf32> {nn.name = "z"}) {
  %s = nn.add %x, %y {nn.name = "res"} : (tensor<1x16x14x14xf32>, tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32>
  %r = nn.relu %s : tensor<1x16x14x14xf32>
  func.return %r : tensor<1x16x14x14xf32>
}

// TILE-LABEL: func.func @residual
// TILE-NEXT:    %r = rapid_tile.kernel "res" mapping <"cores(d1=4) corelets(d1=2) rows() cols() simd() order(d0,d1,d2,d3) lx(d0=1,d1=2,d2=14,d3=14) l0() double_buffer">(%x, %y)
// TILE-NEXT:    ^bb0
// TILE-NEXT:      %s = nn.add %{{.*}}, %{{.*}} {nn.name = "res"}
// TILE-NEXT:      %{{.*}} = nn.relu %s
// TILE-NEXT:      rapid_tile.yield

// MEM-LABEL: func.func @residual
// MEM-NEXT:    rapid_mem.kernel "res" cores 4 corelets 2(%x, %y, %out0)
// MEM:           rapid_mem.corelet 0 {
// MEM-COUNT-3:     rapid_mem.alloc : !rapid_mem.buffer<1x2x14x14xf16, lx>
// MEM-NEXT:        %[[READY:.*]] = rapid_mem.ready
// MEM-NEXT:        %[[X:.*]] = rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {392:1}>, %{{.*}} <offset 0, core 784, dims {392:1}> after(%[[READY]])
// MEM-NEXT:        %[[Y:.*]] = rapid_mem.dma queue 0
// MEM-NEXT:        %[[ADD:.*]] = rapid_mem.sfu "add"({{.*}}) accesses [#rapid_mem.access<offset 0, dims {392:1}>, {{.*}}] imms [] after(%[[READY]], %[[X]], %[[Y]])
// MEM-NEXT:        %[[RELU:.*]] = rapid_mem.sfu "relu"({{.*}}) {{.*}} after(%[[ADD]])
// MEM-NEXT:        rapid_mem.dma queue 0 %{{.*}} <offset 0, core 784, dims {392:1}>, %{{.*}} <offset 0, dims {392:1}> after(%[[RELU]])
// MEM:           rapid_mem.corelet 1 {
// MEM:             rapid_mem.dma queue 1 {{.*}} <offset 392, core 784, dims {392:1}>

// Two cores, one corelet: loops over d1 and (double-buffered, unrolled by two) d2.
// PINNED-LABEL: func.func @residual
// PINNED:         rapid_mem.kernel "res" cores 2 corelets 1
// PINNED-COUNT-6:   rapid_mem.alloc : !rapid_mem.buffer<1x2x7x14xf16, lx>
// PINNED:           rapid_mem.loop "d1" 4 carry
// PINNED:             rapid_mem.loop "d2" 1 carry
// PINNED:               rapid_mem.dma queue 0 {{.*}} <offset 0, core 1568, loops {d1: 392, d2: 196}, dims {2:196, 98:1}>
// PINNED:               rapid_mem.dma queue 0 {{.*}} <offset 98, core 1568, loops {d1: 392, d2: 196}, dims {2:196, 98:1}>
// PINNED:               rapid_mem.sfu "add"
// PINNED:               rapid_mem.sfu "relu"
// PINNED:               rapid_mem.dma queue 1
// PINNED:               rapid_mem.sfu "add"
// PINNED:               rapid_mem.sfu "relu"
// PINNED:               rapid_mem.dma queue 1
// PINNED-NEXT:          rapid_mem.next

// -----

func.func @bn(%x: tensor<2x8x6x6xf32> {nn.name = "x"}, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>) -> (tensor<2x8x3x3xf32> {nn.name = "y"}) {
  %n = nn.batch_norm %x, %g, %b, %m, %v epsilon 1.000000e-05 {nn.name = "bn"} : (tensor<2x8x6x6xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8x6x6xf32>
  %p = nn.max_pool2d %n kernel [3, 3] strides [2, 2] pads [1, 1, 1, 1] dilations [1, 1] {nn.name = "pool"} : (tensor<2x8x6x6xf32>) -> tensor<2x8x3x3xf32>
  func.return %p : tensor<2x8x3x3xf32>
}

// TILE-LABEL: func.func @bn
// TILE:         rapid_tile.kernel "bn" mapping <"cores(c=4) corelets(n=2) rows() cols() simd() order(n,c,s) lx(n=1,c=2,s=36) l0() double_buffer">
// TILE:         rapid_tile.kernel "pool" mapping <"cores(c=4) corelets(n=2) rows() cols() simd() order(n,c,oh,ow,kh,kw) lx(n=1,c=2,oh=3,ow=3,kh=3,kw=3) l0() double_buffer">

// Batch norm: per-channel f32 scale and shift computed on the SFU, then one fma per tile.
// MEM-LABEL: func.func @bn
// MEM:         rapid_mem.kernel "bn" cores 4 corelets 2
// MEM:           rapid_mem.corelet 0 {
// MEM:             %[[SCALE:.*]] = rapid_mem.alloc : !rapid_mem.buffer<2xf32, lx>
// MEM-NEXT:        %[[SHIFT:.*]] = rapid_mem.alloc : !rapid_mem.buffer<2xf32, lx>
// MEM-COUNT-3:     rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {2:1}>
// MEM-NEXT:        %[[VAR:.*]] = rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {2:1}>, %{{.*}} <offset 0, core 2, dims {2:1}>
// MEM-NEXT:        rapid_mem.sfu "scale"(%[[SHIFT]], %{{.*}}) {{.*}} imms [1.000000e+00 : f32, 1.000000e-05 : f32] after(%[[VAR]])
// MEM-NEXT:        rapid_mem.sfu "sqrt"(%[[SHIFT]], %[[SHIFT]])
// MEM-NEXT:        rapid_mem.sfu "recip"(%[[SHIFT]], %[[SHIFT]])
// MEM-NEXT:        rapid_mem.sfu "mul"(%[[SCALE]], %{{.*}}, %[[SHIFT]])
// MEM-NEXT:        rapid_mem.sfu "mul"(%[[SHIFT]], %{{.*}}, %[[SCALE]])
// MEM-NEXT:        rapid_mem.sfu "sub"(%[[SHIFT]], %{{.*}}, %[[SHIFT]])
// MEM-NEXT:        rapid_mem.sfu "fma"(%{{.*}}, %{{.*}}, %[[SCALE]], %[[SHIFT]]) accesses [#rapid_mem.access<offset 0, dims {2:36, 36:1}>, #rapid_mem.access<offset 0, dims {2:36, 36:1}>, #rapid_mem.access<offset 0, dims {2:1, 36:0}>, #rapid_mem.access<offset 0, dims {2:1, 36:0}>]

// Max pooling: the input tile with its halo, the border as DMA padding with the most
// negative finite f16 value, one maxpool over the window.
// MEM:         rapid_mem.kernel "pool" cores 4 corelets 2
// MEM:           rapid_mem.alloc : !rapid_mem.buffer<1x2x7x7xf16, lx>
// MEM:           rapid_mem.dma queue 0 %{{.*}} <offset 0, dims {2:49, 7:7, 7:1}>, %{{.*}} <offset 0, core 72, dims {2:36, 7:6, 7:1}, pads {0:0, 1:0, 1:0}> padval -6.550400e+04 : f32
// MEM-NEXT:      rapid_mem.sfu "maxpool"({{.*}}) accesses [#rapid_mem.access<offset 0, dims {2:9, 3:3, 3:1}>, #rapid_mem.access<offset 0, dims {2:49, 3:14, 3:2}>] imms [] window [#builtin.int<3>, #builtin.int<7>, #builtin.int<3>, #builtin.int<1>]

// -----

func.func @head(%x: tensor<4x5x2x2xf32> {nn.name = "x"}) -> (tensor<4x5xf32> {nn.name = "probs"}) {
  %p = nn.global_avg_pool %x {nn.name = "gap"} : (tensor<4x5x2x2xf32>) -> tensor<4x5x1x1xf32>
  %f = nn.flatten %p axis 1 {nn.name = "flat"} : (tensor<4x5x1x1xf32>) -> tensor<4x5xf32>
  %s = nn.softmax %f axis -1 {nn.name = "softmax"} : tensor<4x5xf32>
  func.return %s : tensor<4x5xf32>
}

// TILE-LABEL: func.func @head
// TILE:         rapid_tile.kernel "gap" mapping <"cores(n=4) corelets(c=2) rows() cols() simd() order(n,c,s) lx(n=1,c=3,s=4) l0() double_buffer">
// TILE:         nn.flatten
// TILE:         rapid_tile.kernel "softmax" mapping <"cores(m=4) corelets() rows() cols() simd() order(m,k) lx(m=1,k=5) l0() double_buffer">

// MEM-LABEL: func.func @head
// MEM:         %[[GAP:.*]] = rapid_mem.scratch : !rapid_mem.buffer<4x5x1x1xf16, dram>
// MEM:         rapid_mem.kernel "gap"
// MEM:           rapid_mem.sfu "rsum"({{.*}}) accesses [#rapid_mem.access<offset 0, dims {3:1, 1:1}>, #rapid_mem.access<offset 0, dims {3:4, 4:1}>]
// MEM-NEXT:      rapid_mem.sfu "scale"({{.*}}) {{.*}} imms [2.500000e-01 : f32, 0.000000e+00 : f32]
// MEM:         %[[FLAT:.*]] = rapid_mem.view %[[GAP]] : !rapid_mem.buffer<4x5x1x1xf16, dram> -> !rapid_mem.buffer<4x5xf16, dram>
// MEM-NEXT:    rapid_mem.kernel "softmax" cores 4 corelets 1(%[[FLAT]], %out0)
// MEM:           rapid_mem.sfu "rmax"
// MEM-NEXT:      rapid_mem.sfu "sub"({{.*}}) accesses [{{.*}}, #rapid_mem.access<offset 0, dims {5:0}>]
// MEM-NEXT:      rapid_mem.sfu "exp"
// MEM-NEXT:      rapid_mem.sfu "rsum"
// MEM-NEXT:      rapid_mem.sfu "recip"
// MEM-NEXT:      rapid_mem.sfu "mul"

// DIMS: rapid-opt: error: {{.*}}convert-tile-to-mem: layer 'wide': a tile access needs 5 dims (sizes [3, 3, 3, 5, 3]) but the ISA has 4
// DIMS-NOT: Traceback

// NOFIT: rapid-opt: error: {{.*}}convert-nn-to-tile: layer 'vocab': the input tile (50000 f16, double-buffered) needs 200000 bytes of LX but LX holds 65536 bytes
// NOFIT-NOT: Traceback
