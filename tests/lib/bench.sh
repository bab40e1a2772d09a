# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the benchmarks in tests/bench/. Source it: . /tests/lib/bench.sh
#
# A benchmark measures ours and the baseline in BENCH_ROUNDS alternating rounds (the
# emulated machines' timing drifts from one second to the next), keeps each side's values
# as a list (one word per round, "-" for a round that failed, after a '# ... failed' line
# that says why) and prints its rows with bench_rows: for a time, the median over the
# rounds and the best round; for a count, the median. A failed round makes the value
# "failed", which the host's report marks FAILED: never a number that reads as a result.

BENCH_ROUNDS=${BENCH_ROUNDS:-5}

# bench_stat median|best UNIT VALUE...: the median of the values, or the best (the smallest;
# the largest for a rate, UNIT .../s, or a factor, x); "failed" if a value is not a number
# above zero.
bench_stat() {
	_kind=$1 _unit=$2
	shift 2
	printf '%s\n' "$@" | awk -v kind="$_kind" -v unit="$_unit" '
		$1 !~ /^[0-9]*\.?[0-9]+$/ || $1 + 0 <= 0 { bad = 1 }
		{ v[n++] = $1 + 0 }
		END {
			if (bad || n == 0) { print "failed"; exit }
			for (i = 1; i < n; i++) {
				x = v[i]
				for (j = i - 1; j >= 0 && v[j] > x; j--) v[j + 1] = v[j]
				v[j + 1] = x
			}
			if (kind == "best") r = (unit ~ /\/s$/ || unit == "x") ? v[n - 1] : v[0]
			else if (n % 2) r = v[(n - 1) / 2]
			else r = (v[n / 2 - 1] + v[n / 2]) / 2
			printf (r >= 100000 ? "%.0f\n" : "%.6g\n"), r
		}'
}

# bench_rows time|count GROUP MEASURE UNIT TARGET OURS BASELINE: the rows of one measure,
# OURS and BASELINE each a list of per-round values (TARGET may be empty).
bench_rows() {
	_what=$1 _g=$2 _m=$3 _u=$4 _t=$5 _o=$6 _b=$7
	set -- $_o
	_n=$#
	echo "@bench $_g | $_m (median of $_n) | $(bench_stat median "$_u" $_o) | $(bench_stat median "$_u" $_b) | $_u${_t:+ | $_t}"
	[ "$_what" = time ] &&
		echo "@bench $_g | $_m (best of $_n) | $(bench_stat best "$_u" $_o) | $(bench_stat best "$_u" $_b) | $_u${_t:+ | $_t}"
	return 0
}
