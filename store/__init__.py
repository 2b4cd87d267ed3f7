"""The storage layer: every SQL statement Concordat runs, over one asyncpg pool.

``database`` (the pool, the migrations), ``ledger`` (the decisions), ``alerts`` (alerts raised and their
NOTIFY), ``outbox`` (subscriptions and deliveries) and ``read_model`` (the ``rm_*`` views the board's report and
the CLI read). Functions take the pool and return domain models or typed rows, never asyncpg records.
"""
