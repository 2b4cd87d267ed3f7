"""The programme board's report: is sharing paying off? Read from the ledger's read model, rendered as
HTML with matplotlib charts, and printed to PDF by headless Chromium."""
