// convert-nn-to-tile: matrix-engine layers become kernels with mappings (a relu that only
// consumes the layer joins it as its epilogue); the rest stays nn.
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c strategy=fixed}' | filecheck %s
// RUN: rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine=rapid-4c strategy=fixed mapping-file="%inputs/layers.json"}' | filecheck %s --check-prefix=PINNED
// RUN: not rapid-opt %s --split-input-file -p 'convert-nn-to-tile{machine="%inputs/tiny-lx.toml" strategy=fixed}' 2>&1 | filecheck %s --check-prefix=NOFIT
// RUN: not rapid-opt %s --split-input-file -p 'convert-nn-to-tile{strategy=magic}' 2>&1 | filecheck %s --check-prefix=STRATEGY

func.func @conv(%x: tensor<1x8x14x14xf32>, %w: tensor<32x8x3x3xf32>) -> tensor<1x32x14x14xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv1"} : (tensor<1x8x14x14xf32>, tensor<32x8x3x3xf32>) -> tensor<1x32x14x14xf32>
  %r = nn.relu %y : tensor<1x32x14x14xf32>
  func.return %r : tensor<1x32x14x14xf32>
}

// CHECK-LABEL: func.func @conv
// CHECK-NEXT:    %r = rapid_tile.kernel "conv1" mapping <"cores(oc=4) corelets(oh=2) rows(oh,ow) cols(oc) simd(ic) order(n,g,oc,oh,ow,ic,kh,kw) lx(n=1,g=1,oc=8,oh=7,ow=14,ic=8,kh=3,kw=3) l0(oh=4,ow=14,oc=8,ic=8) double_buffer">(%x, %w) : (tensor<1x8x14x14xf32>, tensor<32x8x3x3xf32>) -> tensor<1x32x14x14xf32> {
// CHECK-NEXT:    ^bb0(%{{.*}}: tensor<1x8x14x14xf32>, %{{.*}}: tensor<32x8x3x3xf32>):
// CHECK-NEXT:      %y = nn.conv2d %{{.*}}, %{{.*}} strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv1"}
// CHECK-NEXT:      %{{.*}} = nn.relu %y : tensor<1x32x14x14xf32>
// CHECK-NEXT:      rapid_tile.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %r : tensor<1x32x14x14xf32>

// -----

func.func @mm(%a: tensor<8x32xf32>, %b: tensor<32x16xf32>, %c: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %y = nn.matmul %a, %b {nn.name = "mm"} : (tensor<8x32xf32>, tensor<32x16xf32>) -> tensor<8x16xf32>
  %z = nn.gemm %a, %b bias %c alpha 1.000000e+00 beta 1.000000e+00 : (tensor<8x32xf32>, tensor<32x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  func.return %y, %z : tensor<8x16xf32>, tensor<8x16xf32>
}

// CHECK-LABEL: func.func @mm
// CHECK-NEXT:    %y = rapid_tile.kernel "mm" mapping <"cores(n=4) corelets(m=2) rows(m) cols(n) simd(k) order(b,m,n,k) {{.*}}">(%a, %b)
// CHECK:         %z = rapid_tile.kernel "gemm_0" mapping <"{{.*}}rows(m) cols(n) simd(k){{.*}}">(%a, %b, %c)
// CHECK:           nn.gemm {{.*}} {nn.name = "gemm_0"}

// PINNED-LABEL: func.func @mm
// PINNED-NEXT:    %y = rapid_tile.kernel "mm" mapping <"cores(n=2) corelets(m=2) rows(m) cols(n) simd(k) order(b,m,n,k) lx(b=1,m=4,n=8,k=16) l0(m=4,n=8,k=16)">(%a, %b)

// -----

func.func @huge(%x: tensor<1x4096x7x7xf32>, %w: tensor<64x4096x7x7xf32>) -> tensor<1x64x1x1xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 {nn.name = "huge"} : (tensor<1x4096x7x7xf32>, tensor<64x4096x7x7xf32>) -> tensor<1x64x1x1xf32>
  func.return %y : tensor<1x64x1x1xf32>
}

// NOFIT: rapid-opt: error: {{.*}}convert-nn-to-tile: layer 'huge': the weight tile {{.*}} needs {{[0-9]+}} bytes of LX but LX holds 65536 bytes
// NOFIT-NOT: Traceback

// STRATEGY: rapid-opt: error: {{.*}}convert-nn-to-tile: unknown strategy 'magic' (strategies: fixed, dse)
