"""A Jupyter kernel for medr1: a wrapper kernel (ipykernel's Kernel base class)
that drives `medr1-repl kernel`, a session speaking JSON lines on stdin/stdout."""

__version__ = "0.1.0"
