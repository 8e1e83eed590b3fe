#!/usr/bin/env bash
# Idempotent machine set-up for building, testing and running the
# concentrator on Debian 12: packages, hugepages, hugetlbfs.
# Says what it did and what failed; exits non-zero if something essential failed.
set -u
HUGEPAGES=${CONC_HUGEPAGES:-1024}   # 2 MB pages: 2 GiB

PACKAGES=(
  build-essential meson ninja-build pkg-config
  dpdk libdpdk-dev libipsec-mb-dev libssl-dev libconfig++-dev libcppunit-dev
  clang libfuzzer-14-dev libclang-rt-14-dev
  python3-scapy python3-cryptography tshark iproute2 ethtool procps psmisc
)

say() { echo "setup: $*"; }
failed=0

if [ "$(id -u)" != 0 ]; then
  say "must run as root (packages, hugepages)"; exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer for it.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >/tmp/conc-setup-apt.log 2>&1; then
    say "FAILED to install packages, see /tmp/conc-setup-apt.log"; tail -5 /tmp/conc-setup-apt.log; failed=1
  else
    say "packages installed"
  fi
else
  say "packages: all present"
fi

nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
have=$(cat "$nr" 2>/dev/null || echo 0)
if [ "$have" -lt "$HUGEPAGES" ]; then
  echo "$HUGEPAGES" > "$nr" 2>/dev/null
  have=$(cat "$nr" 2>/dev/null || echo 0)
  if [ "$have" -lt "$HUGEPAGES" ]; then
    say "WARNING: asked for $HUGEPAGES 2 MB hugepages, got $have (memory fragmented?)"
    [ "$have" -gt 0 ] || failed=1
  else
    say "reserved $have 2 MB hugepages"
  fi
else
  say "hugepages: $have x 2 MB reserved"
fi

mkdir -p /dev/hugepages
if ! mountpoint -q /dev/hugepages; then
  if mount -t hugetlbfs nodev /dev/hugepages; then say "mounted hugetlbfs on /dev/hugepages"
  else say "FAILED to mount hugetlbfs"; failed=1; fi
else
  say "hugetlbfs: mounted"
fi

exit $failed
