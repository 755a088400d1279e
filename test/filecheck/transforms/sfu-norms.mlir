// The SFU kernels of GELU, layer norm, LRN, reduce and softmax over an axis that is not
// the last: convert-nn-to-tile gives each a vector mapping (reduced dims whole),
// convert-tile-to-mem the SFU instructions of sfu_bodies.py / sfu_norms.py; the result
// parses back (a reduction to a scalar is the rank-0 buffer `<f16, dram>`).
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c}' | filecheck %s --check-prefix=TILE
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}' | filecheck %s --check-prefix=MEM
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}' | rapid-opt --split-input-file | filecheck %s --check-prefix=MEM

func.func @gelu(%x: tensor<2x3x5xf32> {nn.name = "x"}) -> (tensor<2x3x5xf32> {nn.name = "e"}, tensor<2x3x5xf32> {nn.name = "t"}) {
  %e = nn.gelu %x approximate none {nn.name = "gelu"} : tensor<2x3x5xf32>
  %t = nn.gelu %x approximate tanh {nn.name = "gelu_tanh"} : tensor<2x3x5xf32>
  func.return %e, %t : tensor<2x3x5xf32>, tensor<2x3x5xf32>
}

// TILE-LABEL: func.func @gelu
// TILE:         rapid_tile.kernel "gelu" mapping <"cores(d1=3) corelets(d0=2) rows() cols() simd() order(d0,d1,d2) lx(d0=1,d1=1,d2=5) l0() double_buffer">
// TILE:           nn.gelu %{{.*}} approximate none
// TILE:         rapid_tile.kernel "gelu_tanh"
// TILE:           nn.gelu %{{.*}} approximate tanh

// Exact: x * (0.5 + 0.5 erf(x / sqrt 2)), through one f32 tile.
// MEM-LABEL: func.func @gelu
// MEM:         rapid_mem.kernel "gelu" cores 3 corelets 2
// MEM:           %[[X:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x5xf16, lx>
// MEM-NEXT:      %[[Y:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x5xf16, lx>
// MEM-NEXT:      %[[T:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x5xf32, lx>
// MEM:           rapid_mem.sfu "scale"(%[[T]], %[[X]]) accesses [#rapid_mem.access<offset 0, dims {5:1}>, #rapid_mem.access<offset 0, dims {5:1}>] imms [0.707106769 : f32, 0.000000e+00 : f32]
// MEM-NEXT:      rapid_mem.sfu "erf"(%[[T]], %[[T]])
// MEM-NEXT:      rapid_mem.sfu "scale"(%[[T]], %[[T]]) {{.*}} imms [5.000000e-01 : f32, 5.000000e-01 : f32]
// MEM-NEXT:      rapid_mem.sfu "mul"(%[[Y]], %[[X]], %[[T]])
// MEM-NEXT:      rapid_mem.dma queue 0

// Tanh: x * (0.5 + 0.5 tanh(x * (c + 0.044715 c x^2))), c = sqrt(2 / pi).
// MEM:         rapid_mem.kernel "gelu_tanh" cores 3 corelets 2
// MEM:           %[[X:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x5xf16, lx>
// MEM-NEXT:      %[[Y:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x5xf16, lx>
// MEM-NEXT:      %[[T:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x1x5xf32, lx>
// MEM:           rapid_mem.sfu "mul"(%[[T]], %[[X]], %[[X]])
// MEM-NEXT:      rapid_mem.sfu "scale"(%[[T]], %[[T]]) {{.*}} imms [0.0356774069 : f32, 0.797884583 : f32]
// MEM-NEXT:      rapid_mem.sfu "mul"(%[[T]], %[[T]], %[[X]])
// MEM-NEXT:      rapid_mem.sfu "tanh"(%[[T]], %[[T]])
// MEM-NEXT:      rapid_mem.sfu "scale"(%[[T]], %[[T]]) {{.*}} imms [5.000000e-01 : f32, 5.000000e-01 : f32]
// MEM-NEXT:      rapid_mem.sfu "mul"(%[[Y]], %[[X]], %[[T]])

// -----

func.func @ln(%x: tensor<2x5x6xf32> {nn.name = "x"}, %s: tensor<5x6xf32>, %b: tensor<5x6xf32>) -> (tensor<2x5x6xf32> {nn.name = "y"}) {
  %y = nn.layer_norm %x, %s bias %b axis 1 epsilon 1.000000e-05 {nn.name = "ln"} : (tensor<2x5x6xf32>, tensor<5x6xf32>, tensor<5x6xf32>) -> tensor<2x5x6xf32>
  func.return %y : tensor<2x5x6xf32>
}

// Rows m = 2 (before axis 1), k = 5 x 6 = 30 normalised (whole in LX).
// TILE-LABEL: func.func @ln
// TILE:         rapid_tile.kernel "ln" mapping <"cores(m=2) corelets() rows() cols() simd() order(m,k) lx(m=1,k=30) l0() double_buffer">

// Scale and bias loaded once; per row: mean, centred rows, variance, 1 / sqrt(var + eps),
// then centred * rstd (broadcast along k) and fma by scale, bias (broadcast over rows).
// MEM-LABEL: func.func @ln
// MEM:         rapid_mem.kernel "ln" cores 2 corelets 1
// MEM:           %[[X:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x30xf16, lx>
// MEM-NEXT:      %[[Y:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x30xf16, lx>
// MEM-NEXT:      %[[C:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x30xf32, lx>
// MEM-NEXT:      %[[SQ:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x30xf32, lx>
// MEM-NEXT:      %[[ST:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1xf32, lx>
// MEM-NEXT:      %[[G:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<30xf16, lx>
// MEM-NEXT:      %[[B:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<30xf16, lx>
// MEM:           rapid_mem.dma queue 0 %[[X]] <offset 0, dims {30:1}>, %{{.*}} <offset 0, core 30, dims {30:1}>
// MEM-NEXT:      rapid_mem.dma queue 0 %[[G]] <offset 0, dims {30:1}>, %{{.*}} <offset 0, dims {30:1}>
// MEM-NEXT:      rapid_mem.dma queue 0 %[[B]] <offset 0, dims {30:1}>, %{{.*}} <offset 0, dims {30:1}>
// MEM-NEXT:      rapid_mem.sfu "rsum"(%[[ST]], %[[X]]) accesses [#rapid_mem.access<offset 0, dims {1:1, 1:1}>, #rapid_mem.access<offset 0, dims {1:30, 30:1}>]
// MEM-NEXT:      rapid_mem.sfu "scale"(%[[ST]], %[[ST]]) {{.*}} imms [0.0333333351 : f32, 0.000000e+00 : f32]
// MEM-NEXT:      rapid_mem.sfu "sub"(%[[C]], %[[X]], %[[ST]]) accesses [{{.*}}, {{.*}}, #rapid_mem.access<offset 0, dims {30:0}>]
// MEM-NEXT:      rapid_mem.sfu "mul"(%[[SQ]], %[[C]], %[[C]])
// MEM-NEXT:      rapid_mem.sfu "rsum"(%[[ST]], %[[SQ]])
// MEM-NEXT:      rapid_mem.sfu "scale"(%[[ST]], %[[ST]]) {{.*}} imms [0.0333333351 : f32, 1.000000e-05 : f32]
// MEM-NEXT:      rapid_mem.sfu "sqrt"(%[[ST]], %[[ST]])
// MEM-NEXT:      rapid_mem.sfu "recip"(%[[ST]], %[[ST]])
// MEM-NEXT:      rapid_mem.sfu "mul"(%[[C]], %[[C]], %[[ST]])
// MEM-NEXT:      rapid_mem.sfu "fma"(%[[Y]], %[[C]], %[[G]], %[[B]])
// MEM-NEXT:      rapid_mem.dma queue 1

// -----

func.func @lrn(%x: tensor<2x5x3x3xf32> {nn.name = "x"}) -> (tensor<2x5x3x3xf32> {nn.name = "y"}) {
  %y = nn.lrn %x size 3 alpha 1.000000e-04 beta 7.500000e-01 bias 1.000000e+00 {nn.name = "lrn"} : (tensor<2x5x3x3xf32>) -> tensor<2x5x3x3xf32>
  func.return %y : tensor<2x5x3x3xf32>
}

// Channels whole (each sums a window of its neighbours); cores and corelets split s and n.
// TILE-LABEL: func.func @lrn
// TILE:         rapid_tile.kernel "lrn" mapping <"cores(s=3) corelets(n=2) rows() cols() simd() order(n,c,s) lx(n=1,c=5,s=3) l0() double_buffer">

// Squares, their window sums by shifted adds (channel c += c - 1 over channels 1..4, then
// c += c + 1 over 0..3), bias + alpha/size * sum, its power -beta as exp(-beta log d).
// MEM-LABEL: func.func @lrn
// MEM:         rapid_mem.kernel "lrn" cores 3 corelets 2
// MEM:           %[[X:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x5x3xf16, lx>
// MEM-NEXT:      %[[Y:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x5x3xf16, lx>
// MEM-NEXT:      %[[SQ:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x5x3xf32, lx>
// MEM-NEXT:      %[[D:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x5x3xf32, lx>
// MEM:           rapid_mem.dma queue 0 %[[X]] <offset 0, dims {5:3, 3:1}>, %{{.*}} <offset 0, core 3, dims {5:9, 3:1}>
// MEM-NEXT:      rapid_mem.sfu "mul"(%[[SQ]], %[[X]], %[[X]]) accesses [#rapid_mem.access<offset 0, dims {15:1}>
// MEM-NEXT:      rapid_mem.sfu "copy"(%[[D]], %[[SQ]])
// MEM-NEXT:      rapid_mem.sfu "add"(%[[D]], %[[D]], %[[SQ]]) accesses [#rapid_mem.access<offset 3, dims {12:1}>, #rapid_mem.access<offset 3, dims {12:1}>, #rapid_mem.access<offset 0, dims {12:1}>]
// MEM-NEXT:      rapid_mem.sfu "add"(%[[D]], %[[D]], %[[SQ]]) accesses [#rapid_mem.access<offset 0, dims {12:1}>, #rapid_mem.access<offset 0, dims {12:1}>, #rapid_mem.access<offset 3, dims {12:1}>]
// MEM-NEXT:      rapid_mem.sfu "scale"(%[[D]], %[[D]]) {{.*}} imms [3.33333337e-05 : f32, 1.000000e+00 : f32]
// MEM-NEXT:      rapid_mem.sfu "log"(%[[D]], %[[D]])
// MEM-NEXT:      rapid_mem.sfu "scale"(%[[D]], %[[D]]) {{.*}} imms [-7.500000e-01 : f32, 0.000000e+00 : f32]
// MEM-NEXT:      rapid_mem.sfu "exp"(%[[D]], %[[D]])
// MEM-NEXT:      rapid_mem.sfu "mul"(%[[Y]], %[[X]], %[[D]])
// MEM-NEXT:      rapid_mem.dma queue 0 %{{.*}} <offset 0, core 3, dims {5:9, 3:1}>, %[[Y]]

// -----

func.func @reduce(%x: tensor<4x4x3x5xf32> {nn.name = "x"}) -> (tensor<4x1x3x1xf32> {nn.name = "s"}, tensor<4x4x3xf32> {nn.name = "m"}, tensor<f32> {nn.name = "a"}) {
  %s = nn.reduce sum %x axes [1, 3] keepdims {nn.name = "sum"} : (tensor<4x4x3x5xf32>) -> tensor<4x1x3x1xf32>
  %m = nn.reduce mean %x axes [-1] {nn.name = "mean"} : (tensor<4x4x3x5xf32>) -> tensor<4x4x3xf32>
  %a = nn.reduce max %x axes [] {nn.name = "max"} : (tensor<4x4x3x5xf32>) -> tensor<f32>
  func.return %s, %m, %a : tensor<4x1x3x1xf32>, tensor<4x4x3xf32>, tensor<f32>
}

// TILE-LABEL: func.func @reduce
// TILE:         rapid_tile.kernel "sum" mapping <"cores(d0=4) corelets(d2=2) rows() cols() simd() order(d0,d1,d2,d3) lx(d0=1,d1=4,d2=2,d3=5) l0() double_buffer">
// TILE:         rapid_tile.kernel "mean" mapping <"cores(d0=4) corelets(d1=2) rows() cols() simd() order(d0,d1,d2,d3) lx(d0=1,d1=2,d2=3,d3=5) l0() double_buffer">
// TILE:         rapid_tile.kernel "max" mapping <"cores() corelets() rows() cols() simd() order(d0,d1,d2,d3) lx(d0=4,d1=4,d2=3,d3=5) l0() double_buffer">

// Axes 1 and 3 are two runs: rsum over d3 (innermost) into an f32 partial [d0][d1][d2],
// then rsum over d1 of it, read with stride 2 (d2's tile) as the innermost access dim.
// MEM-LABEL: func.func @reduce
// MEM-SAME:      %out2: !rapid_mem.buffer<f16, dram> {nn.name = "a"}
// MEM:         rapid_mem.kernel "sum" cores 4 corelets 2
// MEM:           %[[X:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x4x2x5xf16, lx>
// MEM-NEXT:      %[[Y:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x2xf16, lx>
// MEM-NEXT:      %[[P:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x4x2xf32, lx>
// MEM:           rapid_mem.sfu "rsum"(%[[P]], %[[X]]) accesses [#rapid_mem.access<offset 0, dims {8:1, 1:1}>, #rapid_mem.access<offset 0, dims {8:5, 5:1}>]
// MEM-NEXT:      rapid_mem.sfu "rsum"(%[[Y]], %[[P]]) accesses [#rapid_mem.access<offset 0, dims {2:1, 1:1}>, #rapid_mem.access<offset 0, dims {2:1, 4:2}>]
// MEM-NEXT:      rapid_mem.dma queue 0 %{{.*}} <offset 0, core 3, dims {2:1}>, %[[Y]]

// Mean: rsum into f32, scale by 1/5 into the output tile.
// MEM:         rapid_mem.kernel "mean" cores 4 corelets 2
// MEM:           rapid_mem.sfu "rsum"({{.*}}) accesses [#rapid_mem.access<offset 0, dims {6:1, 1:1}>, #rapid_mem.access<offset 0, dims {6:5, 5:1}>]
// MEM-NEXT:      rapid_mem.sfu "scale"({{.*}}) {{.*}} imms [2.000000e-01 : f32, 0.000000e+00 : f32]

// Max over every axis: the whole tensor in one tile, one rmax, a scalar result.
// MEM:         rapid_mem.kernel "max" cores 1 corelets 1
// MEM:           rapid_mem.sfu "rmax"({{.*}}) accesses [#rapid_mem.access<offset 0, dims {1:1, 1:1}>, #rapid_mem.access<offset 0, dims {1:1, 240:1}>]
// MEM-NEXT:      rapid_mem.dma queue 1 %{{.*}} <offset 0, dims {1:1}>, {{.*}} : !rapid_mem.buffer<f16, dram>, !rapid_mem.buffer<1xf16, lx>

// -----

func.func @softmax(%x: tensor<2x5x9xf32> {nn.name = "x"}) -> (tensor<2x5x9xf32> {nn.name = "p"}) {
  %p = nn.softmax %x axis 1 {nn.name = "softmax"} : tensor<2x5x9xf32>
  func.return %p : tensor<2x5x9xf32>
}

// Softmax over axis 1 of 2x5x9: dims m = 2, k = 5, i = 9; the tile [m][k][i].
// TILE-LABEL: func.func @softmax
// TILE:         rapid_tile.kernel "softmax" mapping <"cores(i=3) corelets(m=2) rows() cols() simd() order(m,k,i) lx(m=1,k=5,i=3) l0() double_buffer">

// rmax and rsum read k as the innermost access dim (stride 3: i's tile), the row stats
// [m][i] are broadcast along k with stride 0.
// MEM-LABEL: func.func @softmax
// MEM:         rapid_mem.kernel "softmax" cores 3 corelets 2
// MEM:           %[[X:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x5x3xf16, lx>
// MEM-NEXT:      %[[Y:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x5x3xf16, lx>
// MEM-NEXT:      %[[E:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x5x3xf32, lx>
// MEM-NEXT:      %[[S:[0-9]+]] = rapid_mem.alloc : !rapid_mem.buffer<1x3xf32, lx>
// MEM:           rapid_mem.dma queue 0 %[[X]] <offset 0, dims {5:3, 3:1}>, %{{.*}} <offset 0, core 3, dims {5:9, 3:1}>
// MEM-NEXT:      rapid_mem.sfu "rmax"(%[[S]], %[[X]]) accesses [#rapid_mem.access<offset 0, dims {3:1, 1:1}>, #rapid_mem.access<offset 0, dims {3:1, 5:3}>]
// MEM-NEXT:      rapid_mem.sfu "sub"(%[[E]], %[[X]], %[[S]]) accesses [#rapid_mem.access<offset 0, dims {5:3, 3:1}>, #rapid_mem.access<offset 0, dims {5:3, 3:1}>, #rapid_mem.access<offset 0, dims {5:0, 3:1}>]
// MEM-NEXT:      rapid_mem.sfu "exp"(%[[E]], %[[E]])
// MEM-NEXT:      rapid_mem.sfu "rsum"(%[[S]], %[[E]]) accesses [#rapid_mem.access<offset 0, dims {3:1, 1:1}>, #rapid_mem.access<offset 0, dims {3:1, 5:3}>]
// MEM-NEXT:      rapid_mem.sfu "recip"(%[[S]], %[[S]])
// MEM-NEXT:      rapid_mem.sfu "mul"(%[[Y]], %[[E]], %[[S]]) accesses [{{.*}}, {{.*}}, #rapid_mem.access<offset 0, dims {5:0, 3:1}>]
// MEM-NEXT:      rapid_mem.dma queue 0 %{{.*}} <offset 0, core 3, dims {5:9, 3:1}>, %[[Y]]
