-- An agreement run in compressed time (a demonstration): how many real seconds each of its seconds stands for,
-- from its opening settings (1 when not given), so that the board's report accrues plans at the same scale as the
-- engine and says that time is compressed. Appended as the view's last column.
CREATE OR REPLACE VIEW rm_agreements AS
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
    SELECT agreement_id, decided_at, coalesce((payload->'settings'->>'time_scale')::bigint, 1) AS time_scale
    FROM decisions WHERE kind = 'agreement_opened'
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
       l.decided_at                                          AS last_decision_at,
       o.time_scale
FROM opened o
JOIN proposal p USING (agreement_id)
JOIN latest l USING (agreement_id)
LEFT JOIN varied_lead v USING (agreement_id)
LEFT JOIN live lv USING (agreement_id)
LEFT JOIN closed c USING (agreement_id);
