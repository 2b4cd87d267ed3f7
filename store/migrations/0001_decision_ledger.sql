-- The decision ledger: append-only, one row per decision, chained by hash.
CREATE TABLE decisions (
    agreement_id    text        NOT NULL,
    seq             bigint      NOT NULL CHECK (seq >= 1),
    stage           text        NOT NULL,
    kind            text        NOT NULL,
    actor_body      text,
    actor_signatory text,
    payload         jsonb       NOT NULL,
    decided_at      timestamptz NOT NULL,
    prev_hash       text        NOT NULL,
    hash            text        NOT NULL UNIQUE,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agreement_id, seq)
);

CREATE FUNCTION refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the decision ledger is append-only: % is not allowed on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER decisions_append_only
    BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change();

CREATE TRIGGER decisions_no_truncate
    BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change();

-- Alerts: one row per level reached by each drift condition of an agreement.
CREATE TABLE alerts (
    id           bigserial   PRIMARY KEY,
    agreement_id text        NOT NULL,
    condition    text        NOT NULL,
    level        text        NOT NULL,
    kind         text        NOT NULL,
    stage        text        NOT NULL,
    message      text        NOT NULL,
    details      jsonb       NOT NULL,
    reached_at   timestamptz NOT NULL,
    raised_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agreement_id, condition, level)
);

CREATE INDEX alerts_by_agreement ON alerts (agreement_id, raised_at);
