"""pbx_cart: the shopping cart service (SPEC §5.2)."""
