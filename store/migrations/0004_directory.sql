-- The directory: which identity providers (issuers) speak for which body, who may read across bodies, and every
-- change to either, kept by the deployment's administrators through `starter.py directory`.

-- An issuer speaks for a body: its tokens (iss = issuer, aud = audience, signed with keys from jwks_url) prove
-- people of that body, each named by the subject_claim (sub; Entra ID: oid, the object id). One issuer may speak
-- for several bodies (a shared tenant), a body may have several.
CREATE TABLE directory_issuers (
    body          text NOT NULL,
    issuer        text NOT NULL,
    jwks_url      text NOT NULL,
    audience      text NOT NULL,
    tenant        text,
    subject_claim text NOT NULL DEFAULT 'sub' CHECK (subject_claim IN ('sub', 'oid')),
    PRIMARY KEY (body, issuer)
);

-- A read grant: the person (issuer and subject) reads the agreements of `body`, or of every body when it is null
-- (a programme office, an auditor).
CREATE TABLE directory_grants (
    issuer  text NOT NULL,
    subject text NOT NULL,
    role    text NOT NULL CHECK (role IN ('programme_office', 'auditor')),
    body    text NOT NULL DEFAULT '*',
    PRIMARY KEY (issuer, subject, role, body)
);

-- Every change to the directory: who made it, when, and what. Append-only, as the decision ledger is.
CREATE TABLE directory_changes (
    seq        bigserial   PRIMARY KEY,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text        NOT NULL CHECK (length(changed_by) > 0),
    change     text        NOT NULL,
    details    jsonb       NOT NULL
);

CREATE TRIGGER directory_changes_append_only
    BEFORE UPDATE OR DELETE ON directory_changes
    FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change();

CREATE TRIGGER directory_changes_no_truncate
    BEFORE TRUNCATE ON directory_changes
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change();
