"""The linear_system class: linear dynamics driven by a random matrix (docs/math/linear_system.md)."""
