#!/bin/sh
# Runs every fuzz target for SECONDS each, one after the other (one libFuzzer process, at
# nice 19), on a scratch corpus target/corpus-work/<target> plus the checked-in seeds
# corpus/<target> (left as they are), and prints one line per target:
#   target  seconds  runs  cov(edges)  features  crashes
# Crashes are saved under artifacts/<target>/; the whole libFuzzer output is in
# target/corpus-work/<target>.log. Usage: ./run-all.sh SECONDS [TARGET...]
set -u
cd "$(dirname "$0")"
secs=${1:?usage: run-all.sh SECONDS [TARGET...]}
shift
targets=${*:-"image_header config_sector linux_header dhcp_offer tftp_packet frame_classifier slot_records http_response table_loader tpm_response"}
export RUSTC_BOOTSTRAP=1
nice -n 15 cargo fuzz build >/dev/null 2>&1 || { echo "cargo fuzz build failed" >&2; exit 1; }
printf '%-18s %8s %12s %10s %10s %8s\n' target seconds runs cov features crashes
for t in $targets; do
    work=target/corpus-work/$t
    mkdir -p "$work" "artifacts/$t"
    before=$(ls "artifacts/$t" | wc -l)
    nice -n 19 cargo fuzz run "$t" "$work" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$work.log" 2>&1
    after=$(ls "artifacts/$t" | wc -l)
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$')
    last=$(grep -E '^#[0-9]+' "$work.log" | tail -n 1)
    cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
    ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
    [ -n "$runs" ] || runs=$(echo "$last" | sed 's/^#\([0-9]*\).*/\1/')
    printf '%-18s %8s %12s %10s %10s %8s\n' "$t" "$secs" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$((after - before))"
done
