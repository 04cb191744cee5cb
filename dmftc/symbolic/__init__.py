"""Symbolic tools shared by the classes' derivations: printing derivations, the SGD diffusion limit."""
