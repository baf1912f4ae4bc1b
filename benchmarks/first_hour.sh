#!/usr/bin/env bash
# A new user's first hour through the CLI, with the network unreachable and watched (tests/cli/test_first_hour.py:
# plan, profile, probe start with bad and good data, wait, status, export, train). Prints the session's commands,
# exit codes and output; fails on a traceback, an undocumented exit code or any connection attempt.
#   bash benchmarks/first_hour.sh
set -euo pipefail
cd "$(dirname "$0")/.."
transcript="$(mktemp)"
trap 'rm -f "$transcript"' EXIT
LORPLAN_FIRST_HOUR_TRANSCRIPT="$transcript" python -m pytest -q -p no:cacheprovider tests/cli/test_first_hour.py
cat "$transcript"
