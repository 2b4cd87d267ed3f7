"""Saved histories of every lifecycle path, replayed by tests/test_replay.py.

Regenerate them with ``python -m tests.histories.record`` after a deliberate change
that alters history, and only together with the ``workflow.patched`` that keeps the
old histories replaying (see the README's contributor section).
"""
