"""Analysis: syntax tree -> analysed model (names, kinds, semantic checks, the update as sympy)."""
