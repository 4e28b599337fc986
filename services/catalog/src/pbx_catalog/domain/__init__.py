"""The catalog domain: products."""
