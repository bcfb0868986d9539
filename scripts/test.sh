#!/usr/bin/env bash
# The test command (`npm test`): installs what the tests need, typechecks, runs every test under test/,
# and ends with the line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
bash scripts/setup-system.sh || exit 1
export PATH="$PWD/node_modules/.bin:$PATH"
echo "node $(node --version)"
# tap compiles its plugin set; rebuild it so the TypeScript plugin stays off (Node 24 strips types itself).
tap build >/dev/null

status=0
echo "== typecheck"
if ! tsc -p tsconfig.json; then status=1; fi

echo "== tests"
report=$(mktemp)
files=("$@")
# tap only globs .ts test files with its TypeScript plugin, which stays off: list them ourselves.
if [ ${#files[@]} -eq 0 ]; then
  # The tests that run whole clusters, stacks of processes or the benchmark suite go one at a time after the rest, so they do not
  # starve each other of this machine's two cores (their timeouts are about faults, not about load).
  heavy='^test/(e2e/|broker/cluster/|bin/up-command|bench/run)'
  mapfile -t files < <(find test -name '*.test.ts' | sort | grep -Ev "$heavy")
  mapfile -t serial < <(find test -name '*.test.ts' | sort | grep -E "$heavy")
else
  serial=()
fi
tap run --reporter=tap --allow-empty-coverage --disable-coverage "${files[@]}" | tee "$report"
[ "${PIPESTATUS[0]}" -ne 0 ] && status=1
if [ ${#serial[@]} -gt 0 ]; then
  tap run --jobs=1 --reporter=tap --allow-empty-coverage --disable-coverage "${serial[@]}" | tee -a "$report"
  [ "${PIPESTATUS[0]}" -ne 0 ] && status=1
fi

# Count each test file's subtests (the 4-space-indented results), falling back to whole files.
passed=$(grep -cE '^    ok [0-9]+' "$report" || true)
failed=$(grep -cE '^    not ok [0-9]+' "$report" || true)
file_failed=$(grep -cE '^not ok [0-9]+' "$report" || true)
if [ "$failed" -eq 0 ] && [ "$file_failed" -gt 0 ]; then failed=$file_failed; fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
rm -f "$report"
echo "$passed passed, $failed failed"
exit $status
