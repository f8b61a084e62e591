#!/usr/bin/env bash
# The grant-migrate action's second step, from its inputs (GRANT_ACTION_*): grant lint (findings as
# workflow annotations; a finding at lint.fail_on stops the step before anything is applied), grant
# migrate --wait, then grant status --exit-code over the same databases; `grant --json status` goes
# to the step's output `status-json`. Exits with grant's code (CONTRACT.md): 2 config, 3 database,
# 1 pending or a lint finding.
set -euo pipefail
global=()
[[ -z ${GRANT_ACTION_CONFIG:-} ]] || global+=(--config "$GRANT_ACTION_CONFIG")
select=()
database_input=${GRANT_ACTION_DATABASE:-}
for name in ${database_input//,/ }; do
  select+=(--database "$name")
done
migrate=(migrate --wait "${GRANT_ACTION_WAIT:-30}")
[[ ${GRANT_ACTION_ATOMIC:-false} != true ]] || migrate+=(--atomic)
[[ -z ${GRANT_ACTION_LOCK_TIMEOUT:-} ]] || migrate+=(--lock-timeout "$GRANT_ACTION_LOCK_TIMEOUT")
# A rollout (docs/commands/migrate.md#rollouts): each input that is set becomes its flag.
[[ -z ${GRANT_ACTION_CANARY:-} ]] || migrate+=(--canary "$GRANT_ACTION_CANARY")
[[ -z ${GRANT_ACTION_WAVES:-} ]] || migrate+=(--waves "$GRANT_ACTION_WAVES")
[[ -z ${GRANT_ACTION_MAX_LAG:-} ]] || migrate+=(--max-lag "$GRANT_ACTION_MAX_LAG")
[[ -z ${GRANT_ACTION_GATE_CMD:-} ]] || migrate+=(--gate-cmd "$GRANT_ACTION_GATE_CMD")
[[ -z ${GRANT_ACTION_PAUSE:-} ]] || migrate+=(--pause "$GRANT_ACTION_PAUSE")

case ${GRANT_ACTION_LINT:-true} in
  true) grant "${global[@]}" lint --wait "${GRANT_ACTION_WAIT:-30}" --format github "${select[@]}" ;;
  false) migrate+=(--no-lint) ;;
  *) echo "grant-migrate: the lint input is true or false, not '$GRANT_ACTION_LINT'" >&2; exit 2 ;;
esac
grant "${global[@]}" "${migrate[@]}" "${select[@]}"
grant "${global[@]}" status --exit-code "${select[@]}"
status=$(grant "${global[@]}" --json status "${select[@]}")
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  delimiter="grant_status_$RANDOM$RANDOM"
  printf 'status-json<<%s\n%s\n%s\n' "$delimiter" "$status" "$delimiter" >>"$GITHUB_OUTPUT"
fi
