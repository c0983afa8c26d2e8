"""Per-guild quotas and storage: who may generate, how much, and the ledger that enforces it."""
