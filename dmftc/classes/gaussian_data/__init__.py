"""The gaussian_data class: learning on Gaussian data (docs/math/gaussian_data.md)."""
