#!/usr/bin/env bash
# ./carehub test: the whole suite. Starts a throwaway PostgreSQL (installing Debian's package when missing) so the store
# contract runs on both databases, runs every test project, and ends with one line: N passed, N failed, N skipped.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d /tmp/carehub-test.XXXXXX)"
chmod 755 "$work"

cleanup() {
  if [ -n "${pg_dir:-}" ]; then bash "$root/scripts/pg-test-cluster.sh" stop "$pg_dir" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Debian's python3-hl7 ships mllp_send, an MLLP client written by others, for the end-to-end channel tests.
if ! command -v mllp_send >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's python3-hl7 (mllp_send) for the MLLP tests..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-hl7) >/dev/null 2>&1 \
      || echo "carehub test: could not install python3-hl7; the mllp_send tests will be skipped and say why." >&2
  else
    echo "carehub test: mllp_send is missing and this is not root; the mllp_send tests will be skipped and say why." >&2
  fi
fi

if [ -z "${CAREHUB_TEST_POSTGRES:-}" ]; then
  pg_dir="$work/pg"
  if conn=$(bash "$root/scripts/pg-test-cluster.sh" start "$pg_dir" | tail -n 1) && [ -n "$conn" ]; then
    export CAREHUB_TEST_POSTGRES="$conn"
    echo "PostgreSQL for tests: a throwaway cluster in $pg_dir"
  else
    echo "carehub test: could not start PostgreSQL; the PostgreSQL tests will be skipped and say why." >&2
  fi
fi

log="$work/test.log"
dotnet test "$root/CareHub.sln" -c Release --nologo --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Each test run ends with a summary ("Total tests: N", "Passed: N", "Failed: N", "Skipped: N", one per line, with
# only the non-zero ones present); sum them over every test project.
read -r passed failed skipped < <(awk '
  /^[[:space:]]+Passed:[[:space:]]+[0-9]+[[:space:]]*$/  {p += $2}
  /^[[:space:]]+Failed:[[:space:]]+[0-9]+[[:space:]]*$/  {f += $2}
  /^[[:space:]]+Skipped:[[:space:]]+[0-9]+[[:space:]]*$/ {s += $2}
  END {print p+0, f+0, s+0}' "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "carehub test: dotnet test exited with $status (a build error or a crashed test host; see above)." >&2
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
