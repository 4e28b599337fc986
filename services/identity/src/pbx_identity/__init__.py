"""pbx_identity."""
