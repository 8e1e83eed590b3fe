#!/usr/bin/env bash
# Builds and runs the data plane benchmark (tests/bench/dataplane_bench.cc): our generator
# live-encrypts L2TP/IPsec for 1, 10k and 100k clients and feeds the real worker loop;
# prints Mpps, Gbps and cycles per packet beside IPsec-MB's own cost for the same
# work (with one key and with the clients' keys) and, for many clients, the ratio to
# the one-client data plane measured in alternating turns. Arguments go to dataplane_bench (--quick, --packets N, --only 'upstream
# aes128gcm16 1 64 1w'; modes 1w and 2w workers, hw hand-off, ew the ESP stage alone, with
# 100k clients only when --only names 100000; --runs N
# measures the table N times and shows each point's median run beside every run's cycles).
# Keep the machine otherwise idle while it runs.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null || { echo "setup failed: run scripts/setup.sh to see why" >&2; exit 1; }
scripts/build.sh >/dev/null
exec build/tests/dataplane_bench "$@"
