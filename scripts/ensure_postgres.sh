#!/bin/sh
# Make sure the PostgreSQL server programs (initdb, pg_ctl, postgres) are installed, for the test of
# several `cnnlab tune` workers on one study (tests/tune/test_tune_distributed.py, whose fixture in
# tests/tune/conftest.py starts a private server from them and never installs anything).
# Idempotent: when they are there it prints their folder and exits at once. Installing needs root
# and Debian's package archive (CI has both); otherwise it says why and exits with 1, and the test
# is skipped with a reason. .ci/run calls it before `make test`.
set -eu
found() {
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r) "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}
if found; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL is not installed and this system has no apt-get" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || { echo "apt-get update failed (no package archive reachable?)" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends postgresql >&2 || { echo "apt-get install postgresql failed" >&2; exit 1; }
found || { echo "the postgresql package installed no initdb, pg_ctl and postgres" >&2; exit 1; }
