-- The read model tells the whole story (issue 27): how agreements end, corrections, one row per agreement.

-- Every visit to a stage ends: the move to closed ends the last visit (left_at, next_stage 'closed'), so a
-- closed agreement's last stage and a sign-off round that closed it (rm_sign_off_cycles, over this view) have
-- an end. The closed stage itself is no visit.
CREATE OR REPLACE VIEW rm_stage_visits AS
WITH entries AS (
    SELECT agreement_id, seq, 'proposal' AS stage, decided_at AS entered_at
    FROM decisions WHERE kind = 'agreement_opened'
    UNION ALL
    SELECT agreement_id, seq, payload->>'to', decided_at
    FROM decisions WHERE kind = 'stage_changed'
), visits AS (
    SELECT agreement_id, stage, entered_at,
           lead(entered_at) OVER visits              AS left_at,
           lead(stage) OVER visits                   AS next_stage,
           lead(entered_at) OVER visits - entered_at AS time_in_stage
    FROM entries
    WINDOW visits AS (PARTITION BY agreement_id ORDER BY seq)
)
SELECT agreement_id, stage, entered_at, left_at, next_stage, time_in_stage
FROM visits WHERE stage <> 'closed';

-- RAG over time: a review's benefits corrected within it replace what they correct (its last recording only).
CREATE OR REPLACE VIEW rm_rag_events AS
SELECT agreement_id, reached_at AS at, stage, kind AS source, level,
       CASE WHEN level = 'amber' THEN 'amber' ELSE 'red' END AS rag
FROM alerts
UNION ALL
SELECT * FROM (
    SELECT DISTINCT ON (agreement_id, (payload->>'review_number')::int)
           agreement_id, decided_at AS at, stage, 'benefits' AS source, payload->'position'->>'rag' AS level,
           payload->'position'->>'rag' AS rag
    FROM decisions WHERE kind = 'benefits_recorded'
    ORDER BY agreement_id, (payload->>'review_number')::int, seq DESC
) latest_per_review;

-- The latest review's savings of each agreement that has reported: one row per agreement.
CREATE VIEW rm_latest_savings AS
SELECT DISTINCT ON (agreement_id) * FROM rm_savings ORDER BY agreement_id, review_number DESC;

-- The business case's options as last submitted, now with their net present social value against carrying on
-- alone (NULL for submissions recorded before it was appraised).
CREATE OR REPLACE VIEW rm_business_case_options AS
WITH submitted AS (
    SELECT DISTINCT ON (agreement_id) agreement_id, payload->'appraisal' AS appraisal, decided_at
    FROM decisions WHERE kind = 'proposal_submitted' AND payload ? 'appraisal'
    ORDER BY agreement_id, seq DESC
)
SELECT agreement_id, option->>'id' AS option_id, option->>'name' AS option_name, option->>'kind' AS option_kind,
       (option->>'present_cost')::numeric AS present_cost, (option->>'net_present_value')::numeric AS net_present_value,
       (option->>'preferred')::boolean AS preferred, decided_at AS submitted_at,
       (option->>'net_present_social_value')::numeric AS net_present_social_value
FROM submitted, jsonb_array_elements(appraisal) AS option;
