"""The wallet domain (no I/O)."""
