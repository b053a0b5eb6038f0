#!/usr/bin/env bash
# Installs Debian packages by name, patiently: the one apt entry point of the project's scripts.
#   scripts/apt-install.sh PACKAGE...
# - Our own scripts are serialised on /tmp/apt.lock (flock waits for it).
# - Anything else using apt or dpkg (unattended-upgrades, another job on a shared machine) holds dpkg's
#   own locks; apt waits up to 10 minutes for them (DPkg::Lock::Timeout) instead of failing at once.
# - A failed update or install (a mirror hiccup, a lock held past the timeout) is tried again, three
#   times in all, before the script gives up with a message.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: apt-install.sh PACKAGE..." >&2; exit 2; }
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-install.sh: installing $* needs root and apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=600 -qq)
for attempt in 1 2 3; do
  if flock -w 1800 /tmp/apt.lock "${apt[@]}" update \
    && flock -w 1800 /tmp/apt.lock "${apt[@]}" install -y --no-install-recommends "$@"; then
    exit 0
  fi
  echo "apt-install.sh: attempt ${attempt} to install $* failed; waiting before the next" >&2
  sleep $((attempt * 10))
done
echo "apt-install.sh: could not install $*" >&2
exit 1
