-- Alert delivery: who is told (subscriptions), what must be sent (the outbox), and every try (attempts).

-- One recipient and the alerts it wants (domain/delivery.py: Subscription). Removing a subscription
-- keeps its row, so the deliveries and attempts made to it stay readable.
CREATE TABLE alert_subscriptions (
    id              bigserial   PRIMARY KEY,
    label           text        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('email', 'webhook', 'teams', 'slack')),
    address         text        NOT NULL,
    secret          text,
    bodies          text[]      NOT NULL DEFAULT '{}',
    relation        text        NOT NULL CHECK (relation IN ('awaited', 'lead', 'partner')),
    kinds           text[]      NOT NULL DEFAULT '{}',
    levels          text[]      NOT NULL,
    escalation_from integer     NOT NULL DEFAULT 1 CHECK (escalation_from >= 1),
    cadence         text        NOT NULL DEFAULT 'immediate' CHECK (cadence IN ('immediate', 'daily', 'weekly')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    CHECK ((channel = 'email') = (secret IS NULL))
);

-- The outbox: one row per message to send. An alert's rows are written in the transaction that
-- stores the alert; a digest's rows by the digest activity. The row's id is the idempotency key
-- every resend carries (the email's Message-ID, the webhook's Concordat-Delivery-Id header).
CREATE TABLE alert_deliveries (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id bigint      NOT NULL REFERENCES alert_subscriptions (id),
    alert_id        bigint      REFERENCES alerts (id),
    digest_key      text,
    digest          jsonb,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    window_start    timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text,
    CHECK ((alert_id IS NULL) <> (digest_key IS NULL)),
    UNIQUE (alert_id, subscription_id),
    UNIQUE (digest_key, subscription_id)
);

CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_by_status ON alert_deliveries (status, created_at);

-- Every try of a delivery and how it ended. outcome NULL: the dispatcher stopped mid-try (a crash),
-- so the receiver may or may not have the message; the resend carries the same delivery id.
CREATE TABLE alert_delivery_attempts (
    delivery_id uuid        NOT NULL REFERENCES alert_deliveries (id),
    attempt     integer     NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome     text        CHECK (outcome IN ('sent', 'failed')),
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);
