// A rapid_tile kernel round-trips in custom and generic syntax.
// RUN: rapid-opt %s | filecheck %s
// RUN: %roundtrip | filecheck %s
// RUN: rapid-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  %y = rapid_tile.kernel "conv1" mapping <"cores(oc=4) corelets(oh=2) rows(oh,ow) cols(oc) simd(ic) order(n,g,oc,oh,ow,ic,kh,kw) lx(n=1,g=1,oc=1,oh=4,ow=8,ic=3,kh=3,kw=3) l0(oh=4,ow=8,oc=1,ic=3) double_buffer">(%x, %w) : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  ^bb0(%a: tensor<1x3x8x8xf32>, %b: tensor<4x3x3x3xf32>):
    %c = nn.conv2d %a, %b strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv1"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
    rapid_tile.yield %c : tensor<1x4x8x8xf32>
  }
  func.return %y : tensor<1x4x8x8xf32>
}

// CHECK:      %y = rapid_tile.kernel "conv1" mapping <"cores(oc=4) corelets(oh=2) rows(oh,ow) cols(oc) simd(ic) order(n,g,oc,oh,ow,ic,kh,kw) lx(n=1,g=1,oc=1,oh=4,ow=8,ic=3,kh=3,kw=3) l0(oh=4,ow=8,oc=1,ic=3) double_buffer">(%x, %w) : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
// CHECK-NEXT: ^bb0(%a: tensor<1x3x8x8xf32>, %b: tensor<4x3x3x3xf32>):
// CHECK-NEXT:   %c = nn.conv2d %a, %b strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv1"} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NEXT:   rapid_tile.yield %c : tensor<1x4x8x8xf32>
// CHECK-NEXT: }

// GENERIC: "rapid_tile.kernel"(%x, %w) <{layer = "conv1", mapping = #rapid_tile.mapping<"cores(oc=4) corelets(oh=2)
