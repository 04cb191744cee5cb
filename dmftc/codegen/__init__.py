"""Code generation: sympy printer, emitter, jinja2 rendering and the JIT cache."""
