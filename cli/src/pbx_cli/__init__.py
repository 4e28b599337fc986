"""pbx_cli."""
