"""Per-guild quotas: who may generate, how much, and the ledger that enforces it.

``policy`` (the checks and :class:`~bot.quota.policy.Quotas`, what the rest of the bot uses),
``rules`` (what a guild lets be made, the monthly budget's refusal), ``settings`` (a guild's
effective settings), ``admin`` (admin changes and the kill switch),
``ledger`` (the ``usage`` table and the release policy), ``reports``, ``periods`` and ``terms``.
"""
