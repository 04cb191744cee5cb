"""What the solvers of several classes share at run time: random inputs, stepping in chunks with
progress, divergence checks, averaging over sources of randomness."""
