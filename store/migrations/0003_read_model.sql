-- The read model: views over the decision ledger (and the alerts) for BI tools and the board's report.
-- Every figure is read from the decisions' payloads as the engine recorded them; nothing is stored twice,
-- so the views are always as current as the ledger. Amounts are pounds (numeric), times UTC (timestamptz).

-- One row per agreement: its latest proposal's figures, its lead body, where it stands.
CREATE VIEW rm_agreements AS
WITH proposal AS (
    SELECT DISTINCT ON (agreement_id) agreement_id, payload->'proposal' AS proposal
    FROM decisions WHERE kind IN ('agreement_opened', 'proposal_revised')
    ORDER BY agreement_id, seq DESC
), varied_lead AS (
    SELECT DISTINCT ON (agreement_id) agreement_id, payload->>'lead_body' AS lead_body
    FROM decisions WHERE kind = 'variation_took_effect'
    ORDER BY agreement_id, seq DESC
), latest AS (
    SELECT DISTINCT ON (agreement_id) agreement_id, stage, decided_at
    FROM decisions ORDER BY agreement_id, seq DESC
), opened AS (
    SELECT agreement_id, decided_at FROM decisions WHERE kind = 'agreement_opened'
), live AS (
    SELECT agreement_id, min(decided_at) AS went_live_at
    FROM decisions WHERE kind = 'stage_changed' AND payload->>'to' = 'review' GROUP BY agreement_id
), closed AS (
    SELECT agreement_id, decided_at AS closed_at, payload->>'reason' AS closure
    FROM decisions WHERE kind = 'stage_changed' AND payload->>'to' = 'closed'
)
SELECT o.agreement_id,
       p.proposal->>'title'                                  AS title,
       p.proposal->>'service_name'                           AS service_name,
       p.proposal->>'service_category'                       AS service_category,
       coalesce(v.lead_body, p.proposal->>'lead_body')       AS lead_body,
       (SELECT partner->>'name' FROM jsonb_array_elements(p.proposal->'partners') AS partner
         WHERE partner->>'code' = coalesce(v.lead_body, p.proposal->>'lead_body'))   AS lead_body_name,
       jsonb_array_length(p.proposal->'partners')            AS partners,
       (p.proposal->>'baseline_annual_cost')::numeric        AS baseline_annual_cost,
       (p.proposal->>'one_off_cost')::numeric                AS one_off_cost,
       (p.proposal->>'expected_annual_saving')::numeric      AS expected_annual_saving,
       l.stage                                               AS stage,
       o.decided_at                                          AS opened_at,
       lv.went_live_at,
       c.closed_at,
       c.closure,
       l.decided_at                                          AS last_decision_at
FROM opened o
JOIN proposal p USING (agreement_id)
JOIN latest l USING (agreement_id)
LEFT JOIN varied_lead v USING (agreement_id)
LEFT JOIN live lv USING (agreement_id)
LEFT JOIN closed c USING (agreement_id);

-- Each agreement's partner bodies (as last proposed), for filtering by any partner.
CREATE VIEW rm_agreement_partners AS
SELECT DISTINCT ON (agreement_id, partner->>'code')
       agreement_id, partner->>'code' AS body, partner->>'name' AS body_name
FROM decisions, jsonb_array_elements(payload->'proposal'->'partners') AS partner
WHERE kind IN ('agreement_opened', 'proposal_revised')
ORDER BY agreement_id, partner->>'code', seq DESC;

-- Every visit to a stage: when it was entered and left (NULL while current), and the time spent in it.
-- Each review cycle is a visit to the review stage.
CREATE VIEW rm_stage_visits AS
WITH entries AS (
    SELECT agreement_id, seq, 'proposal' AS stage, decided_at AS entered_at
    FROM decisions WHERE kind = 'agreement_opened'
    UNION ALL
    SELECT agreement_id, seq, payload->>'to', decided_at
    FROM decisions WHERE kind = 'stage_changed'
)
SELECT agreement_id, stage, entered_at,
       lead(entered_at) OVER visits              AS left_at,
       lead(stage) OVER visits                   AS next_stage,
       lead(entered_at) OVER visits - entered_at AS time_in_stage
FROM entries
WHERE stage <> 'closed'
WINDOW visits AS (PARTITION BY agreement_id ORDER BY seq);

-- Sign-off cycles: each round from submission for sign-off until it left sign-off, and where it went
-- (implementation or review: approved; proposal or objective_setting: rejected; closed).
CREATE VIEW rm_sign_off_cycles AS
SELECT agreement_id, entered_at AS submitted_at, left_at AS concluded_at, next_stage AS outcome_stage,
       time_in_stage AS cycle_time
FROM rm_stage_visits WHERE stage = 'sign_off';

-- RAG over time: every alert level raised (amber, or red for red and escalations), and every benefit RAG
-- recorded at a review.
CREATE VIEW rm_rag_events AS
SELECT agreement_id, reached_at AS at, stage, kind AS source, level,
       CASE WHEN level = 'amber' THEN 'amber' ELSE 'red' END AS rag
FROM alerts
UNION ALL
SELECT agreement_id, decided_at, stage, 'benefits' AS source, payload->'position'->>'rag',
       payload->'position'->>'rag'
FROM decisions WHERE kind = 'benefits_recorded';

-- The business case's options as submitted (the last submission), with their net present values.
CREATE VIEW rm_business_case_options AS
WITH submitted AS (
    SELECT DISTINCT ON (agreement_id) agreement_id, payload->'appraisal' AS appraisal, decided_at
    FROM decisions WHERE kind = 'proposal_submitted' AND payload ? 'appraisal'
    ORDER BY agreement_id, seq DESC
)
SELECT agreement_id, option->>'id' AS option_id, option->>'name' AS option_name, option->>'kind' AS option_kind,
       (option->>'present_cost')::numeric AS present_cost, (option->>'net_present_value')::numeric AS net_present_value,
       (option->>'preferred')::boolean AS preferred, decided_at AS submitted_at
FROM submitted, jsonb_array_elements(appraisal) AS option;

-- Savings planned and realised: one row per agreement and review (the last figures recorded in it).
CREATE VIEW rm_savings AS
SELECT DISTINCT ON (agreement_id, (payload->>'review_number')::int)
       agreement_id,
       (payload->>'review_number')::int                                  AS review_number,
       (payload->'position'->>'period_end')::timestamptz                 AS period_end,
       (payload->>'actual_annual_cost')::numeric                         AS actual_annual_cost,
       (payload->'position'->>'annual_saving_realised')::numeric         AS annual_saving_realised,
       (payload->'position'->>'annual_saving_expected')::numeric         AS annual_saving_expected,
       (payload->'position'->>'saving_in_period')::numeric               AS saving_in_period,
       (payload->'position'->>'cumulative_saving')::numeric              AS cumulative_saving,
       (payload->'position'->>'cumulative_planned')::numeric             AS cumulative_planned,
       payload->'position'->>'rag'                                       AS rag,
       (payload->'position'->>'planned_payback_at')::timestamptz         AS planned_payback_at,
       (payload->'position'->>'forecast_payback_at')::timestamptz        AS forecast_payback_at,
       (payload->'position'->>'paid_back')::boolean                      AS paid_back,
       payload->'position'->>'forecast_rag'                              AS forecast_rag,
       decided_at                                                        AS recorded_at
FROM decisions WHERE kind = 'benefits_recorded'
ORDER BY agreement_id, (payload->>'review_number')::int, seq DESC;

-- Each partner's contribution and saving against its own baseline, as last recorded in each review.
CREATE VIEW rm_partner_savings AS
SELECT DISTINCT ON (agreement_id, (payload->>'review_number')::int, contribution->>'body')
       agreement_id, (payload->>'review_number')::int AS review_number, contribution->>'body' AS body,
       (contribution->>'annual_amount')::numeric AS annual_contribution,
       (payload->'partner_savings'->>(contribution->>'body'))::numeric AS annual_saving
FROM decisions, jsonb_array_elements(payload->'contributions') AS contribution
WHERE kind = 'benefits_recorded'
ORDER BY agreement_id, (payload->>'review_number')::int, contribution->>'body', seq DESC;

-- The risk register as it stands: the last reviewed at a benefit review, else the proposal's.
CREATE VIEW rm_risks AS
WITH register AS (
    SELECT DISTINCT ON (agreement_id) agreement_id, decided_at,
           CASE WHEN kind = 'risks_reviewed' THEN payload->'risks' ELSE payload->'proposal'->'risks' END AS risks
    FROM decisions
    WHERE kind = 'risks_reviewed'
       OR (kind IN ('agreement_opened', 'proposal_revised') AND jsonb_typeof(payload->'proposal'->'risks') = 'array')
    ORDER BY agreement_id, seq DESC
)
SELECT agreement_id, risk->>'id' AS risk_id, risk->>'risk' AS risk, risk->>'owner_body' AS owner_body,
       (risk->>'likelihood')::int AS likelihood, (risk->>'impact')::int AS impact,
       (risk->>'likelihood')::int * (risk->>'impact')::int AS score, risk->>'mitigation' AS mitigation,
       decided_at AS as_of
FROM register, jsonb_array_elements(risks) AS risk;

-- Lessons learned at reviews, across the portfolio.
CREATE VIEW rm_lessons AS
SELECT d.agreement_id, d.seq, (d.payload->>'review_number')::int AS review_number, d.actor_body AS body,
       d.actor_signatory AS signatory, lesson->>'what_worked' AS what_worked,
       lesson->>'what_did_not' AS what_did_not,
       ARRAY(SELECT jsonb_array_elements_text(lesson->'tags')) AS tags, d.decided_at AS recorded_at
FROM decisions d, jsonb_array_elements(d.payload->'lessons') AS lesson
WHERE d.kind = 'lessons_recorded';
