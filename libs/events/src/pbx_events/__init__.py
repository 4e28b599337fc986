"""pbx_events."""
