"""The local stack, packaging and benchmarking support. Nothing here runs in production."""
