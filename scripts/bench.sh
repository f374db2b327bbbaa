#!/usr/bin/env bash
# Benchmarks of the FHIR record core, always in Release: ./carehub bench create|read|ingest|all [--quick] [options]
# Builds CareHub.Server (the server measured, run as a child process) and the bench, then runs the bench.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

case "${1:-}" in
  search|ods|terminology)
    # In process through the one door (no server to build): FHIR search targets, ./carehub bench search [--resources N] [--postgres CONN]; ODS import, ./carehub bench ods [--postgres CONN];
    # terminology targets, ./carehub bench terminology [--concepts N] [--postgres CONN] (docs/terminology.md).
    exec dotnet run -c Release --project "$root/bench/CareHub.Bench" -- "$@"
    ;;
esac

if ! log=$(dotnet build "$root/src/CareHub.Server/CareHub.Server.csproj" -c Release --nologo -v q 2>&1); then
  echo "$log" >&2
  echo "bench: building CareHub.Server failed (see above)." >&2
  exit 1
fi

case "${1:-}" in
  mpi-quality|mpi-match)
    # Person matching quality through the one door, and $match latency and create throughput at scale (issue: the
    # master person index).
    exec dotnet run -c Release --project "$root/bench/CareHub.Mpi.Bench" -- "$@"
    ;;
  notify)
    # Commit-to-delivery latency of notifications with many active subscriptions (docs/notifications.md).
    exec dotnet run -c Release --project "$root/bench/CareHub.Notify.Bench" -- "$@"
    ;;
  policy)
    # What the access policy costs on reads and searches (issue: information governance).
    exec dotnet run -c Release --project "$root/bench/CareHub.Governance.Bench" -- "$@"
    ;;
  hl7-parse)
    shift
    exec dotnet run -c Release --project "$root/bench/CareHub.Hl7v2.Bench" -- "$@"
    ;;
esac
exec dotnet run -c Release --project "$root/bench/CareHub.Bench" -- "$@"
