"""End-to-end tests: a real Jupyter server driven by a real browser."""
