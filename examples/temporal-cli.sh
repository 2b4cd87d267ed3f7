#!/usr/bin/env bash
# Drive one agreement from proposal to close with the plain `temporal` CLI and JSON:
# what a service in any language does through its own Temporal SDK.
#
#   examples/temporal-cli.sh [AGREEMENT_ID]
#
# Needs a running Concordat worker. Reads TEMPORAL_ADDRESS (default localhost:7233) and
# CONCORDAT_TASK_QUEUE (default concordat-agreements). The agreement's review period
# is three seconds, so it closes after one review.
set -euo pipefail
here=$(dirname "$0")
id=${1:-cli-example-$(date +%s)}
workflow="agreement-$id"
address=${TEMPORAL_ADDRESS:-localhost:7233}
task_queue=${CONCORDAT_TASK_QUEUE:-concordat-agreements}
cannock='{"body": "E07000192", "signatory": "Martin Lee"}'
lichfield='{"body": "E07000194", "signatory": "Priya Shah"}'

update() {  # update NAME JSON: prints the agreement's new status as JSON
  temporal workflow update execute --address "$address" --workflow-id "$workflow" \
    --name "$1" --input "$2" --output json
}

# The start options of the contract (contract/contract.json, "start_options"): no second run of the id,
# and the summary, details and memo the Web UI shows, filled in from the proposal.
temporal workflow start --address "$address" --type AgreementWorkflow --task-queue "$task_queue" \
  --workflow-id "$workflow" --id-reuse-policy RejectDuplicate --id-conflict-policy Fail \
  --static-summary "Joint building control service: Building control" \
  --static-details "$(printf '%s\n\n' '**Joint building control service**' 'Service: Building control (front_line)' \
    'Lead body: Cannock Chase District Council' 'Partners: Cannock Chase District Council, Lichfield District Council')" \
  --memo 'title="Joint building control service"' \
  --input "$(sed "s/@ID@/$id/" "$here/agreement.json")"

update submit_proposal "{\"actor\": $cannock}"
plan=$(sed "s/@DUE@/$(date -u -d '+60 days' +%F)/" "$here/plan.json")
update set_objectives "{\"actor\": $cannock, \"plan\": $plan}"
# Each sign-off names the version of the agreement it approves: the status's "version".
version=$(update submit_for_sign_off "{\"actor\": $cannock}" | jq -r 'first(.. | objects | select(has("decisions_recorded")) | .version)')
update record_sign_off "{\"actor\": $cannock, \"decision\": \"approve\", \"version\": \"$version\"}"
update record_sign_off "{\"actor\": $lichfield, \"decision\": \"approve\", \"version\": \"$version\"}"
update report_milestone "{\"actor\": $cannock, \"milestone_id\": \"team\", \"status\": \"complete\", \"percent_complete\": 100}"

# Readings are taken once the review period (three seconds here) has ended: until then
# the engine refuses them, saying when the period ends.
recorded=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if update record_kpi_readings "{\"actor\": $cannock, \"readings\": [{\"kpi_id\": \"weeks-to-decide\", \"value\": \"4.2\"}]}"; then
    recorded=yes
    break
  fi
  sleep 1
done
[ -n "$recorded" ] || { echo "the review period did not end after $attempt attempts" >&2; exit 1; }
update decide_review "{\"actor\": $cannock, \"outcome\": \"continue\", \"reason\": \"targets met\"}"

temporal workflow query --address "$address" --workflow-id "$workflow" --name status --output json
temporal workflow result --address "$address" --workflow-id "$workflow" --output json
