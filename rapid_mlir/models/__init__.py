"""Networks with seeded random weights (no downloads): `resnet`, an `nn` module written
with `GraphBuilder`, and `zoo`, well-known networks as ONNX models (docs/models.md)."""
