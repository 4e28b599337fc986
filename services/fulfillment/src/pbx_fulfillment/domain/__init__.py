"""The fulfillment domain: the Order (the checkout saga's state) and its checks (no framework)."""
