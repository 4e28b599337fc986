"""pbx_fulfillment: the checkout saga, shipments and the services bought (SPEC §5.3)."""
