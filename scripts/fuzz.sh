#!/usr/bin/env bash
# Explores every Go fuzz target of the project for $1 each (make fuzz: FUZZTIME,
# 30s). Stops at the first failure; its input stays under testdata/fuzz/.
set -euo pipefail
t=${1:-30s}
cd "$(dirname "$0")/.."
for mod in pkg pseudonymisation services; do
	for dir in $(cd "$mod" && grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do
		for f in $(cd "$mod" && grep -h -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
			echo "fuzz: $mod/${dir#./} $f ($t)"
			# The whole output only when it fails: the failing input and its trace.
			if ! out=$(cd "$mod" && go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" -fuzzminimizetime 100x "$dir" 2>&1); then
				echo "$out"
				echo "fuzz: $mod/${dir#./} $f failed; the input is kept under $mod/${dir#./}/testdata/fuzz/$f/: commit it with the fix" >&2
				exit 1
			fi
			echo "$out" | tail -n 1
		done
	done
done
