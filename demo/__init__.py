"""The demo portfolio on the embedded stack: python -m demo."""
