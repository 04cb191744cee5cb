"""The model language: lark grammar and parser (syntax), the frozen syntax tree (nodes), sympy
expressions built node by node (expressions) and the symbols with a fixed meaning (symbols)."""
