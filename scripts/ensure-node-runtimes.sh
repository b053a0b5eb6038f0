#!/usr/bin/env bash
# Fetches the Node.js releases the client is tested on besides the one running the project (22 and 24,
# the long-term-support lines), from the npm registry: the official binaries are published there as
# `node-<platform>-<arch>` packages. Each is unpacked under node_modules/.cache/node-runtimes/<version>/
# (bin/node); nothing is installed system-wide and PATH is not touched. Nothing happens when they are
# there already. Concurrent runs wait for one another.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSIONS=(22.23.3 24.22.3)
DIR=node_modules/.cache/node-runtimes

platform=$(node -p 'process.platform === "win32" ? "win" : process.platform')
arch=$(node -p 'process.arch')
missing=()
for v in "${VERSIONS[@]}"; do
  [ -x "$DIR/$v/bin/node" ] || missing+=("$v")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock -w 600 9 || { echo "timed out waiting for $DIR/.lock" >&2; exit 1; }
for v in "${missing[@]}"; do
  [ -x "$DIR/$v/bin/node" ] && continue
  echo "==> fetching Node.js $v for the runtime tests (node-$platform-$arch from the npm registry, ~50 MB)"
  work=$(mktemp -d "$DIR/.fetch-XXXXXX")
  # npm pack checks the tarball against the registry's integrity hash.
  (cd "$work" && npm pack "node-$platform-$arch@$v" --silent >/dev/null)
  mkdir -p "$work/unpacked"
  tar -xzf "$work"/*.tgz -C "$work/unpacked" --strip-components=1
  "$work/unpacked/bin/node" -e "if (process.version !== 'v$v') process.exit(1)" \
    || { echo "the node-$platform-$arch@$v package did not give a working Node.js $v" >&2; rm -rf "$work"; exit 1; }
  rm -rf "${DIR:?}/$v"
  mv "$work/unpacked" "$DIR/$v"
  rm -rf "$work"
done
