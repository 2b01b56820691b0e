#!/usr/bin/env bash
# The whole test suite: lint, types, layer contract, then pytest. Fails when no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
status=0
echo "== ruff"; $bin/ruff check src tests bench || status=1
echo "== mypy"; $bin/mypy || status=1
echo "== import layers"; $bin/lint-imports || status=1
echo "== pytest"
$bin/pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  rc=1
fi
[ $rc -ne 0 ] && status=1
exit $status
