#!/usr/bin/env bash
# Runs the whole test command from a fresh clone of this repository's HEAD, N times in a row,
# as CI would (`CI=true .ci/run`), and says how many were green: a suite that fails once in N
# has a flake to find and fix (never a retry). Each run's log lands in test-output/loop/.
#
#   ./scripts/test-loop.sh          # 10 runs
#   ./scripts/test-loop.sh 3        # 3 runs
#   ./scripts/test-loop.sh 10 test  # 10 runs of only the named stages (see scripts/test.sh)
#
# Every run shares the Cargo target directory (~/.cache/meetdesk/target by default), so only
# the first builds from cold. The clones live under a temp dir removed at the end.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
RUNS=${1:-10}
shift || true
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RUNS] [STAGE…]" >&2; exit 2; }
OUT=$ROOT/test-output/loop
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meetdesk-loop.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
COMMIT=$(git rev-parse HEAD)
if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
  echo "note: uncommitted changes are not tested; the runs test HEAD ($COMMIT)"
fi

green=0
failed=()
for i in $(seq 1 "$RUNS"); do
  clone=$WORK/run-$i
  git clone -q --no-hardlinks "$ROOT" "$clone"
  git -C "$clone" checkout -q "$COMMIT"
  log=$OUT/run-$i.log
  start=$SECONDS
  if (cd "$clone" && CI=true ./.ci/run "$@") >"$log" 2>&1; then
    green=$((green + 1))
    echo "run $i/$RUNS: green in $((SECONDS - start)) s"
  else
    failed+=("$i")
    echo "run $i/$RUNS: FAILED after $((SECONDS - start)) s ($(grep -m1 -o 'FAILED in stage "[^"]*"' "$log" || echo 'see the log')); log: $log"
    # What failed, for the summary: nextest's and node's failure lines.
    grep -E '^\s+FAIL \[|^not ok|✘' "$log" | head -n 5 | sed 's/^/    /' || true
  fi
  # The clone's test-output/ holds screenshots and recordings of that run.
  if [[ -d $clone/test-output ]]; then
    rm -rf "$OUT/run-$i-output"
    mv "$clone/test-output" "$OUT/run-$i-output"
  fi
  rm -rf "$clone"
done
echo "$green of $RUNS runs green (commit $COMMIT)${failed[*]:+; failed: ${failed[*]}}"
[[ $green -eq $RUNS ]]
