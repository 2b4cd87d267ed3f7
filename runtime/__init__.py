"""What every Concordat process shares: settings, structured logs, the Temporal connection, payload encryption,
and running as a long-lived service (exit codes, waiting for dependencies)."""
