#!/usr/bin/env bash
# The project's benchmarks, each printing its numbers. Long: not part of
# `make test`. Compare ratios within one run (the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
export CISIS_KIT=${CISIS_KIT:-$(cd .. && pwd)/shared/ci-sis}
section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "Validation: full CI-SIS profile vs xmllint --schema (issue 3)"
scripts/bench-validate.sh "${BENCH_VALIDATE_ROUNDS:-50}"

section "Unpacking MSSanté mails (MIME + XDM)"
(cd pkg && go test -run '^$' -bench 'BenchmarkUnpack' -benchmem ./mssante/)

section "Extraction and pseudonymisation per document (issue 5; target: < 10 % of validation)"
(cd pkg && go test -run '^$' -bench 'BenchmarkExtract|BenchmarkParse' -benchmem ./cda/)
(cd pseudonymisation && go test -run '^$' -bench 'Pseudonymise' -benchmem .)

section "Acknowledgements (MDN build and SMTP submission)"
(cd pkg && go test -run '^$' -bench 'Answer|BuildMDN' -benchmem ./ack/)

for extra in bench-hub.sh bench-ingest.sh bench-store.sh; do
	if [ -x "scripts/$extra" ]; then
		section "scripts/$extra"
		"scripts/$extra"
	fi
done
