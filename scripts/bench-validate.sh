#!/usr/bin/env bash
# Validation speed: the Go engine's full SDM-MR_2024.01 profile (parse + XSD +
# 4 schematrons, one core) next to `xmllint --noout --schema CDA_extended.xsd`
# (parse + XSD only) over the same three 2024.01 examples, in the same run.
# Prints both rates, their ratio (target: >= 16 %) in wall and CPU time (the machine
# is shared: CPU time is the stable figure), and the peak RSS of
# `bndmrctl validate` on the examples.
#   scripts/bench-validate.sh [ROUNDS]   (default 100 rounds of the 3 documents)
set -euo pipefail
rounds=${1:-100}
cd "$(dirname "$0")/.."
kit=${CISIS_KIT:-$(cd ../shared/ci-sis && pwd)}
xsd="$kit/kit-3.0/infrastructure/cda/CDA_extended.xsd"
mapfile -t docs < <(ls "$kit"/examples/sdm-mr/SDM-MR_2024.01_*.xml)
n=$(( rounds * ${#docs[@]} ))

go_out=$(cd pkg && CISIS_KIT="$kit" go test -run '^$' -bench '^BenchmarkValidate$' -benchtime "${n}x" ./cisis/ 2>/dev/null | grep '^BenchmarkValidate')
go_rate=$(awk '{for (i=1;i<=NF;i++) if ($(i+1)=="docs/s") print $i}' <<<"$go_out")
go_cpu=$(awk '{for (i=1;i<=NF;i++) if ($(i+1)=="cpu-docs/s") print $i}' <<<"$go_out")

files=()
for _ in $(seq "$rounds"); do files+=("${docs[@]}"); done
tf=$(mktemp)
ok=$(/usr/bin/time -f '%e %U %S' -o "$tf" xmllint --noout --schema "$xsd" "${files[@]}" 2>&1 | grep -c ' validates$' || true)
if [ "$ok" -ne "$n" ]; then echo "xmllint validated $ok of $n documents" >&2; exit 1; fi
read -r xl_wall xl_user xl_sys <"$tf"; rm -f "$tf"
xl_rate=$(awk -v n="$n" -v w="$xl_wall" 'BEGIN{printf "%.1f", n/w}')
xl_cpu=$(awk -v n="$n" -v u="$xl_user" -v s="$xl_sys" 'BEGIN{printf "%.1f", n/(u+s)}')

printf 'documents: %d (%d rounds of %d SDM-MR 2024.01 examples)\n' "$n" "$rounds" "${#docs[@]}"
printf '                                                 wall time     CPU time\n'
printf 'go engine, full profile (XSD + 4 schematrons): %8.1f docs/s %8.1f docs/s\n' "$go_rate" "$go_cpu"
printf 'xmllint --schema CDA_extended.xsd (XSD only):   %8.1f docs/s %8.1f docs/s\n' "$xl_rate" "$xl_cpu"
awk -v g="$go_rate" -v x="$xl_rate" -v gc="$go_cpu" -v xc="$xl_cpu" 'BEGIN{r=100*g/x; rc=100*gc/xc;
	printf "ratio: %.1f %% of xmllint in wall time, %.1f %% in CPU time (target >= 16 %%): %s\n", r, rc, (rc>=16?"OK":"TOO SLOW")}'
awk -v gc="$go_cpu" 'BEGIN{printf "per document: %.2f ms of CPU (the Saxon chain: ~150 ms; 20x faster is 7.5 ms)\n", 1000/gc}'

mkdir -p bin && go build -o bin/bndmrctl ./services/bndmrctl
if [ -x /usr/bin/time ]; then
	/usr/bin/time -v bin/bndmrctl validate --kit "$kit" "${docs[@]}" >/dev/null 2>/tmp/bench-validate-time.$$ || true
	rss=$(awk -F': ' '/Maximum resident set size/{print $2}' /tmp/bench-validate-time.$$)
	rm -f /tmp/bench-validate-time.$$
	printf 'peak RSS of bndmrctl validate on the 3 examples (kit loaded): %d MiB\n' $(( rss / 1024 ))
fi
