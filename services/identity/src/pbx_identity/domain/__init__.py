"""The identity domain: accounts and the keyed indexes that keep them unique."""
