"""pbx_kit."""
