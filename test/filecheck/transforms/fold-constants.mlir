// fold-constants: nn ops whose operands are all known are evaluated (reference kernels)
// and replaced by inline constants (at most max-inline elements) or, with weights-out, by
// entries of a new weight file; ops left without users are removed.
// RUN: rapid-opt %s --split-input-file -p fold-constants | filecheck %s
// RUN: rapid-opt %s --split-input-file -p 'fold-constants{weights="%inputs/fold-weights.npz"}' | filecheck %s --check-prefix=W
// RUN: rapid-opt %s --split-input-file -p 'fold-constants{weights="%inputs/fold-weights.npz" weights-out="%t.npz" max-inline=1}' | filecheck %s --check-prefix=OUT
// RUN: rapid-opt %s --split-input-file -p 'fold-constants{weights="%inputs/fold-weights.npz" max-inline=2}' | filecheck %s --check-prefix=PART
// RUN: not rapid-opt %s --split-input-file -p 'fold-constants{weights="%inputs/missing.npz"}' 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not rapid-opt %s --split-input-file -p 'fold-constants{weights-out="%t.npz"}' 2>&1 | filecheck %s --check-prefix=NOWEIGHTS

// Inline constants fold in any case; the folded value keeps the name of the op it replaces.
// CHECK-LABEL: func.func @inline
// CHECK-NEXT:    %s = nn.constant dense<[4.000000e+00, 6.000000e+00]> : tensor<2xf32> {nn.name = "s"}
// CHECK-NEXT:    %y = nn.add %x, %s {nn.name = "y"}
// CHECK-NEXT:    func.return %y
func.func @inline(%x: tensor<2xf32>) -> tensor<2xf32> {
  %a = nn.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %b = nn.constant dense<[3.0, 4.0]> : tensor<2xf32>
  %s = nn.add %a, %b {nn.name = "s"} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %y = nn.add %x, %s {nn.name = "y"} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

// A weight is known only when the pass can read the weight file. A large result (here
// max-inline=1) goes to weights-out, which holds every weight the module still uses and
// which the module then names; the unused weight "v" is dropped.
// CHECK-LABEL: func.func @weights
// CHECK:         %w = nn.weight "w"
// CHECK:         nn.transpose %w
// W-LABEL: func.func @weights
// W-NEXT:    %t = nn.constant dense<{{\[\[}}1.000000e+00, 3.000000e+00], [2.000000e+00, 4.000000e+00]]> : tensor<2x2xf32> {nn.name = "t"}
// W-NEXT:    %y = nn.matmul %x, %t
// OUT:       builtin.module attributes {nn.weights = "{{.*}}.npz"}
// OUT-LABEL: func.func @weights
// OUT-NEXT:    %t = nn.weight "t" : tensor<2x2xf32>
// OUT-NEXT:    %y = nn.matmul %x, %t
builtin.module attributes {nn.weights = "fold-weights.npz"} {
  func.func @weights(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
    %w = nn.weight "w" : tensor<2x2xf32>
    %v = nn.weight "v" : tensor<2xf32>
    %t = nn.transpose %w perm [1, 0] {nn.name = "t"} : (tensor<2x2xf32>) -> tensor<2x2xf32>
    %y = nn.matmul %x, %t {nn.name = "y"} : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// -----

// Too large to inline (max-inline=2) and no weights-out: the smaller values it is computed from are
// folded instead (sqrt(v), 2 elements), and the large product stays for the device.
// PART-LABEL: func.func @partial
// PART-NEXT:    %w = nn.weight "w"
// PART-NEXT:    %s = nn.constant dense<[2.000000e+00, 3.000000e+00]> : tensor<2xf32> {nn.name = "s"}
// PART-NEXT:    %ws = nn.mul %w, %s
// PART-NEXT:    %y = nn.matmul %x, %ws
builtin.module attributes {nn.weights = "fold-weights.npz"} {
  func.func @partial(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
    %w = nn.weight "w" : tensor<2x2xf32>
    %v = nn.weight "v" : tensor<2xf32>
    %s = nn.sqrt %v {nn.name = "s"} : tensor<2xf32>
    %ws = nn.mul %w, %s {nn.name = "ws"} : (tensor<2x2xf32>, tensor<2xf32>) -> tensor<2x2xf32>
    %y = nn.matmul %x, %ws {nn.name = "y"} : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// -----

// Ops marked to run on the host and recurrent layers are never evaluated here.
// CHECK-LABEL: func.func @host
// CHECK:         nn.add %a, %a {nn.host, nn.name = "h"}
func.func @host(%x: tensor<2xf32>) -> tensor<2xf32> {
  %a = nn.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %h = nn.add %a, %a {nn.host, nn.name = "h"} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %y = nn.add %x, %h {nn.name = "y"} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// MISSING: rapid-opt: error: {{.*}}fold-constants.mlir: fold-constants: weight file {{.*}}missing.npz does not exist
// NOWEIGHTS: rapid-opt: error: {{.*}}fold-constants.mlir: fold-constants: weights-out needs the weights option
