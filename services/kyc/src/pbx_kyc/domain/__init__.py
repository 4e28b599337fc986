"""The screening domain (no I/O)."""
