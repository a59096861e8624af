#!/usr/bin/env bash
# The soak of issue 9 (t/soak_test.go): an hour of mixed load with a
# reload every minute, a worker SIGKILL every 5 minutes and a log
# rotation every 10, reporting failed requests, descriptors and memory
# over time. CI does not run it. Environment: SOAK_DURATION (1h),
# SOAK_CLIENTS (8), SOAK_PAUSE (2ms), SOAK_RELOAD (1m), SOAK_KILL (5m),
# SOAK_REOPEN (10m), SOAK_SAMPLE (30s). The log goes to standard output
# and to ${SOAK_LOG:-soak.log}.
set -euo pipefail
cd "$(dirname "$0")"
go test -tags soak -run '^TestSoak$' -count=1 -timeout 0 -v . 2>&1 | tee "${SOAK_LOG:-soak.log}"
