"""The Concordat command line: start agreements, act on them, and inspect them.

    python starter.py start agreement.yaml
    python starter.py record-sign-off waste-2027 --body E07000199 --signatory "Owen Hughes" --decision approve \\
        --version VERSION   # the version `status` shows
    python starter.py status waste-2027 [--json]
    python starter.py list --stage sign_off --rag red
    python starter.py ledger waste-2027
    python starter.py story waste-2027
    python starter.py verify --all
    python starter.py reconcile --every 5    # record terminated agreements in the ledger, on a schedule
    python starter.py lessons --tag procurement
    python starter.py report --lead-body E07000194
    python starter.py alerts subscribe --label "Tamworth waste lead" --email waste@tamworth.gov.uk --body E07000199

Every command has --help; every read command takes --json. In a terminal tables fit its width, wrapping
between words; in a pipe they are plain tab-separated columns, never cut. Exit codes: 0 done, 1 refused or
failed (verify: tampering or a broken chain), 2 bad input, 3 Temporal or the database cannot be reached or read,
4 an action's outcome is unknown (check status; send it again with the same --action-id: a repeat is answered as
such).
Connection settings: TEMPORAL_ADDRESS (and the SDK's other TEMPORAL_* variables), DATABASE_URL. With --api URL
(or CONCORDAT_API_URL) start, the actions and status go through the Concordat API with the bearer token in
CONCORDAT_TOKEN (or --token-file): the only way to act on an agreement that requires attestation.
"""
