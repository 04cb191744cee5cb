"""The gaussian_field class: optimizers on random Gaussian landscapes (docs/math/gaussian_field.md)."""
