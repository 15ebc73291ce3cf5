#!/usr/bin/env bash
# Runs every Go fuzz target of the project for a short time each ($1, e.g. 5s):
# enough to catch a regression on the seed corpus and a little beyond.
set -euo pipefail
t=${1:-5s}
cd "$(dirname "$0")/.."
for mod in pkg pseudonymisation services; do
	for dir in $(cd "$mod" && grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do
		for f in $(cd "$mod" && grep -h -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
			echo "fuzz: $mod/${dir#./} $f ($t)"
			(cd "$mod" && go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" -fuzzminimizetime 100x "$dir") | tail -n 1
		done
	done
done
