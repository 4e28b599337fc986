"""The cart domain: pricing, the mixing rule and the Cart aggregate (no framework)."""
