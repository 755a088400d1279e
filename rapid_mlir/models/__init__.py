"""Networks written with `GraphBuilder`, with seeded random weights (no downloads)."""
