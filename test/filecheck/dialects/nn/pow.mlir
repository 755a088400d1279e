// nn.pow (x^p with a constant exponent): custom and generic round trips.
//
// RUN 1 parses the custom syntax and checks the custom print; RUN 2 prints in generic
// form and parses that back (the same CHECK lines match); RUN 3 checks the generic form.
// The verifier's errors are in pow-invalid.mlir.
//
// RUN: rapid-opt %s | filecheck %s
// RUN: %roundtrip | filecheck %s
// RUN: rapid-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @pow(
// CHECK-NEXT:    %p = nn.pow %x exponent 7.500000e-01 {nn.name = "den_pow"} : tensor<1x6x2x2xf32>
// CHECK-NEXT:    %inv = nn.pow %p exponent -1.000000e+00 : tensor<1x6x2x2xf32>
// CHECK-NEXT:    %cube = nn.pow %inv exponent 3.000000e+00 : tensor<1x6x2x2xf32>
// CHECK-NEXT:    func.return %cube : tensor<1x6x2x2xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "pow"
// GENERIC:       %p = "nn.pow"(%x) <{exponent = 7.500000e-01 : f32}> {nn.name = "den_pow"} : (tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
// GENERIC-NEXT:  %inv = "nn.pow"(%p) <{exponent = -1.000000e+00 : f32}> : (tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
func.func @pow(%x: tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32> {
  %p = nn.pow %x exponent 0.75 {nn.name = "den_pow"} : tensor<1x6x2x2xf32>
  %inv = nn.pow %p exponent -1.0 : tensor<1x6x2x2xf32>
  %cube = nn.pow %inv exponent 3.0 : tensor<1x6x2x2xf32>
  func.return %cube : tensor<1x6x2x2xf32>
}

// f16 and a scalar tensor.
// CHECK-LABEL: func.func @pow_f16_scalar(
// CHECK-NEXT:    %y = nn.pow %x exponent -5.000000e-01 : tensor<f16>
// GENERIC-LABEL: "func.func"() <{sym_name = "pow_f16_scalar"
// GENERIC:       %y = "nn.pow"(%x) <{exponent = -5.000000e-01 : f32}> : (tensor<f16>) -> tensor<f16>
func.func @pow_f16_scalar(%x: tensor<f16>) -> tensor<f16> {
  %y = nn.pow %x exponent -0.5 : tensor<f16>
  func.return %y : tensor<f16>
}
