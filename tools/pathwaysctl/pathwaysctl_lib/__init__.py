"""pathwaysctl's implementation: one module per service plus connection, output and demo."""
