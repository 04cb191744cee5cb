"""The matrix_sgd class: a weight matrix trained by SGD on online data (docs/math/matrix_sgd.md)."""
