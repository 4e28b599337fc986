"""Wallet service: the prepaid balance (プリペイド) as a double-entry ledger in integer yen."""
