"""pbx_catalog: the device shop catalog (SPEC §5.1)."""
