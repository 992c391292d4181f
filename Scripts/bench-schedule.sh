#!/usr/bin/env bash
# Benchmark: the scheduler with a store of years of bookings.
#   Scripts/bench-schedule.sh [BOOKINGS] [RUNS]
# Fills a fresh store with BOOKINGS (default 100000) realistic bookings, then measures
#   - loading the store at start (in-process, median of RUNS) and the memory the loaded store takes,
#   - booking a province-wide meeting (central host, all 147 sites) with its conflict check, lock,
#     append and fsync (median and p90 of 30 bookings),
#   - `vcbridge meeting agenda --site` for one commune as a whole CLI process (median of RUNS).
# Targets: booking median < 10 ms, agenda < 200 ms, loaded store < 200 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
bookings=${1:-100000}
runs=${2:-11}

swift build -c release --product vcbridge-bench >&2
swift build -c release --product vcbridge >&2
bin="$(swift build -c release --show-bin-path)"
data=$(mktemp -d /tmp/vcb-bench-schedule.XXXXXX)
trap 'rm -rf "$data"' EXIT

source Scripts/bench/common.sh

echo "filling a store with $bookings bookings..."
fill=$("$bin/vcbridge-bench" schedule-fill --data-dir "$data" --bookings "$bookings")
echo "  $fill; journal $(du -h "$data/bookings.journal" | cut -f1)"

loads=(); stores=()
for ((i = 0; i < runs; i++)); do
    out=$("$bin/vcbridge-bench" schedule-load --data-dir "$data")
    loads+=("$(echo "$out" | field load_ms)")
    stores+=("$(echo "$out" | field store_mb)")
done
load=$(printf "%s\n" "${loads[@]}" | median)
store=$(printf "%s\n" "${stores[@]}" | median)

book=$("$bin/vcbridge-bench" schedule-book --data-dir "$data" --count 30)
book_median=$(echo "$book" | field book_median_ms)
book_p90=$(echo "$book" | field book_p90_ms)

agendas=()
for ((i = 0; i < runs; i++)); do
    start=$(date +%s%N)
    VCBRIDGE_NOW="2027-03-01 08:00" "$bin/vcbridge" meeting agenda --site lang-cong --data-dir "$data" > /dev/null
    agendas+=("$(( ($(date +%s%N) - start) / 1000 ))")
done
agenda=$(awk -v us="$(printf "%s\n" "${agendas[@]}" | median)" 'BEGIN {printf "%.1f", us / 1000}')

printf "\n%-52s %12s %10s %8s\n" "measure" "median" "target" "ratio"
printf "%-52s %9.2f ms %7s ms %8.3f\n" "book a province-wide meeting (147 sites), p90 ${book_p90%.*} ms" "$book_median" 10 "$(awk -v a="$book_median" 'BEGIN {print a / 10}')"
printf "%-52s %9.1f ms %7s ms %8.3f\n" "meeting agenda --site lang-cong (whole process)" "$agenda" 200 "$(awk -v a="$agenda" 'BEGIN {print a / 200}')"
printf "%-52s %9.1f ms %10s %8s\n" "load the store at start (in-process)" "$load" "-" "-"
printf "%-52s %9.1f MB %7s MB %8.3f\n" "memory of the loaded store" "$store" 200 "$(awk -v a="$store" 'BEGIN {print a / 200}')"
ok=$(awk -v b="$book_median" -v a="$agenda" -v m="$store" 'BEGIN {print (b < 10 && a < 200 && m < 200) ? "met" : "NOT met"}')
echo "targets: $ok"
