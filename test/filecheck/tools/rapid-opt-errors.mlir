// How rapid-opt reports errors: exit code != 0 and a short `rapid-opt: error: ...`
// message on stderr, never a Python traceback; `-o FILE` is only written on success.
// This file itself is the input with a verifier error.

// A verifier error: the message names the file, the op and the problem, then the op.
// RUN: not rapid-opt %s 2>&1 | filecheck %s --check-prefix=VERIFY
// VERIFY-NOT: Traceback
// VERIFY:      {{^}}rapid-opt: error: {{.*}}rapid-opt-errors.mlir: nn.conv2d: weight has 64 input channels per group but input has 3
// VERIFY-NEXT: {{^}}  in: %y = "nn.conv2d"(%x, %w) <{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64}> : (tensor<1x3x8x8xf32>, tensor<4x64x3x3xf32>) -> tensor<1x4x6x6xf32>
// VERIFY-NOT: {{.}}

// The same input with --verify-diagnostics: the message goes to stdout and the exit code is 0.
// RUN: rapid-opt %s --verify-diagnostics | filecheck %s --check-prefix=DIAG
// DIAG:      {{^}}nn.conv2d: weight has 64 input channels per group but input has 3
// DIAG:      | Operation does not verify: nn.conv2d: weight has 64 input channels per group but input has 3

// A parse error: file:line:col, the line, a caret and the message.
// RUN: not rapid-opt %inputs/rapid-opt-unknown-op.mlir 2>&1 | filecheck %s --check-prefix=PARSE
// PARSE-NOT: Traceback
// PARSE:      {{^}}rapid-opt: error: {{.*}}rapid-opt-unknown-op.mlir:3:15
// PARSE-NEXT: %y = nn.foo %x : tensor<4xf32>
// PARSE-NEXT: ^^
// PARSE-NEXT: Operation nn.foo is not registered
// PARSE-NOT: Traceback

// An unknown pass in -p: the message lists the known passes.
// RUN: not rapid-opt %inputs/rapid-opt-ok.mlir -p no-such-pass 2>&1 | filecheck %s --check-prefix=PASS
// PASS-NOT: Traceback
// PASS:     {{^}}rapid-opt: error: unknown pass 'no-such-pass' in the pipeline (known passes: {{.*}}cse{{.*}})
// PASS-NOT: Traceback

// A malformed pipeline string.
// RUN: not rapid-opt %inputs/rapid-opt-ok.mlir -p 'cse{' 2>&1 | filecheck %s --check-prefix=PIPELINE
// PIPELINE-NOT: Traceback
// PIPELINE:     {{^}}rapid-opt: error: Error parsing pass pipeline specification:
// PIPELINE:     Expected argument name here
// PIPELINE-NOT: Traceback

// An option the pass does not have: the message names the pipeline.
// RUN: not rapid-opt %inputs/rapid-opt-ok.mlir -p 'canonicalize{foo=1}' 2>&1 | filecheck %s --check-prefix=OPTION
// OPTION-NOT: Traceback
// OPTION:     {{^}}rapid-opt: error: bad pass pipeline 'canonicalize{foo=1}': Provided arguments ["foo"] not found in expected arguments []
// OPTION-NOT: Traceback

// A missing input file.
// RUN: not rapid-opt %t.does-not-exist.mlir 2>&1 | filecheck %s --check-prefix=MISSING
// MISSING-NOT: Traceback
// MISSING:     {{^}}rapid-opt: error: {{.*}}No such file or directory: '{{.*}}.does-not-exist.mlir'
// MISSING-NOT: Traceback

// -o FILE: not created when the input is bad (nor its temporary file), an existing
// file is left as it was, and it is written when everything succeeds.
// RUN: rm -f %t.out %t.out.tmp
// RUN: not rapid-opt %s -o %t.out
// RUN: test ! -e %t.out
// RUN: test ! -e %t.out.tmp
// RUN: echo old contents > %t.kept
// RUN: not rapid-opt %s -o %t.kept
// RUN: filecheck %s --check-prefix=KEPT --input-file %t.kept
// KEPT: {{^}}old contents{{$}}
// RUN: rapid-opt %inputs/rapid-opt-ok.mlir -o %t.ok
// RUN: filecheck %s --check-prefix=OUT --input-file %t.ok
// OUT:      builtin.module {
// OUT-NEXT:   func.func @ok(%x: tensor<4xf32>) -> tensor<4xf32> {
// OUT-NEXT:     %y = nn.relu %x : tensor<4xf32>

// --help works and documents -p.
// RUN: rapid-opt --help | filecheck %s --check-prefix=HELP
// HELP: usage: rapid-opt
// HELP: -p PASSES, --passes PASSES

func.func @bad(%x: tensor<1x3x8x8xf32>, %w: tensor<4x64x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = nn.conv2d %x, %w strides [1, 1] pads [0, 0, 0, 0] dilations [1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<4x64x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
