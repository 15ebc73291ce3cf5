#!/usr/bin/env bash
# Fetches chDB, ClickHouse built as a shared library (libchdb.so), into
# .run/chdb/ (git-ignored). The compatibility tests (pkg/store) run every
# migration and every statement of the hub on it as well as on the 18.16
# server: it is the engine of the version production runs (docs/store.md).
#
# The library comes from the npm package @chdb/lib-linux-x64-gnu, fetched with
# `npm pack` (a tarball, no install scripts run), checked against the SHA-256
# pinned here, and only libchdb.so is kept. Idempotent: nothing is fetched
# when the pinned library is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${BNDMR_RUN_DIR:-$root/.run}
dest=$run/chdb
version=26.7.3-stable.1
# SHA-256 of the npm tarball and of the library in it (npm also checks the
# registry's own sha512 when it downloads).
tgz_sha256=c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad
lib_sha256=36ad4e999882821ef13cf2d0f52c93f48e6ee1b4498b35a201c23ce4b8d15bf5

if [ -f "$dest/libchdb.so" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
	echo "deps: chDB $version present in $dest"
	exit 0
fi
if ! command -v npm >/dev/null; then
	echo "deps: installing npm (to fetch chDB)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
mkdir -p "$dest"
tmp=$(mktemp -d "$dest/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "deps: fetching chDB $version (about 180 MB)"
# A cache of our own, removed with the rest: the tarball is kept nowhere else.
(cd "$tmp" && npm pack --silent --cache "$tmp/npm-cache" --ignore-scripts "@chdb/lib-linux-x64-gnu@$version" >/dev/null)
tgz=$tmp/chdb-lib-linux-x64-gnu-$version.tgz
echo "$tgz_sha256  $tgz" | sha256sum -c --quiet -
tar -xzf "$tgz" -C "$tmp" package/libchdb.so
echo "$lib_sha256  $tmp/package/libchdb.so" | sha256sum -c --quiet -
mv "$tmp/package/libchdb.so" "$dest/libchdb.so"
echo "$version" >"$dest/VERSION"
echo "deps: chDB $version in $dest/libchdb.so"
