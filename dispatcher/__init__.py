"""Alert delivery: the dispatcher process that sends the outbox's emails and webhooks (``python -m dispatcher``)."""
