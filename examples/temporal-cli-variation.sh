#!/usr/bin/env bash
# Vary a partnership with the plain `temporal` CLI and JSON: Cumbria County Council (E10000006)
# is succeeded by Cumberland (E06000063) and Westmorland and Furness (E06000064), as on
# 1 April 2023; then the lead body's signatory retires and names her successor first.
#
#   examples/temporal-cli-variation.sh [AGREEMENT_ID]
#
# Needs a running Concordat worker. Reads TEMPORAL_ADDRESS (default localhost:7233) and
# CONCORDAT_TASK_QUEUE (default concordat-agreements). The variation's effective date is
# today, so it takes effect as soon as the last body signs it.
set -euo pipefail
here=$(dirname "$0")
id=${1:-cli-variation-$(date +%s)}
workflow="agreement-$id"
address=${TEMPORAL_ADDRESS:-localhost:7233}
task_queue=${CONCORDAT_TASK_QUEUE:-concordat-agreements}
lancashire='{"body": "E10000017", "signatory": "Helen Ashworth"}'
cumberland='{"body": "E06000063", "signatory": "Iain Wilson"}'
westmorland='{"body": "E06000064", "signatory": "Ruth Atkinson"}'
blackpool='{"body": "E06000009", "signatory": "Nadia Rahman"}'

update() {  # update NAME JSON: prints the agreement's new status as JSON
  temporal workflow update execute --address "$address" --workflow-id "$workflow" \
    --name "$1" --input "$2" --output json
}

temporal workflow start --address "$address" --type AgreementWorkflow --task-queue "$task_queue" \
  --workflow-id "$workflow" --input "$(jq --arg id "$id" '.agreement_id = $id' "$here/agreement-north-west.json")"

# The lead body proposes the variation; every body that will be a partner after it signs,
# the successors through the signatories the variation names. Cumbria does not sign.
# The example's effective date is 1 April 2031; this one takes effect today, as soon as the last body signs.
variation=$(jq --arg today "$(date -u +%F)" '.effective_on = $today' "$here/variation-cumbria.json")
# Each signature names the version of the variation it approves: the status's "variation.version".
version=$(update propose_variation "{\"actor\": $lancashire, \"variation\": $variation}" \
  | jq -r 'first(.. | objects | select(has("awaited")) | .version)')
for signer in "$lancashire" "$cumberland" "$westmorland" "$blackpool"; do
  update sign_variation "{\"actor\": $signer, \"decision\": \"approve\", \"version\": \"$version\"}"
done

# The signatory register: Helen Ashworth names the incoming chief executive, then retires.
update name_signatory "{\"actor\": $lancashire, \"of_body\": \"E10000017\", \"name\": \"Sam Clarke\", \"role\": \"Chief Executive\"}"
update retire_signatory "{\"actor\": $lancashire, \"of_body\": \"E10000017\", \"name\": \"Helen Ashworth\", \"retired_on\": \"$(date -u +%F)\"}"

temporal workflow query --address "$address" --workflow-id "$workflow" --name status --output json
update withdraw "{\"actor\": {\"body\": \"E10000017\", \"signatory\": \"Sam Clarke\"}, \"reason\": \"example finished\"}"
temporal workflow result --address "$address" --workflow-id "$workflow" --output json
