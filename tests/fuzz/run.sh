#!/bin/sh
# Runs libFuzzer drivers built by `make fuzz`: run.sh DIR NAME...
# Each DIR/fuzz-NAME runs for $FUZZ_TIME seconds (default 60) on one core, starting from
# tests/fuzz/corpus/NAME (read only); what it discovers goes to DIR/corpus-NAME, a crash,
# leak or sanitizer report to DIR/NAME-crash-*; its output to DIR/NAME.log.  Prints the
# executions and coverage (libFuzzer's cov: and ft:) of each, and fails when one failed:
# minimise the input (fuzz-NAME -minimize_crash=1 FILE), fix the parser, and commit the
# input into tests/fuzz/corpus/NAME/ so that `make check` replays it for ever.
set -u
dir=$1
shift
time=${FUZZ_TIME:-60}
src=${top_srcdir:-.}
failed=
summary=
for name in "$@"; do
	bin=$dir/fuzz-$name
	seeds=$src/tests/fuzz/corpus/$name
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "run.sh: no driver $bin or no corpus $seeds" >&2
		failed="$failed $name"
		continue
	fi
	mkdir -p "$dir/corpus-$name"
	echo "== fuzz-$name: $time s"
	"$bin" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$dir/$name-" "$dir/corpus-$name" "$seeds" \
		>"$dir/$name.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$name.log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+' "$dir/$name.log" | tail -n 1 |
	      sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1 ft \2 corpus \3/p')
	line="fuzz-$name: ${runs:-?} executions, ${cov:-no coverage line}, exit $rc"
	echo "$line"
	summary="$summary$line
"
	if [ "$rc" -ne 0 ]; then
		failed="$failed $name"
		grep -E 'ERROR|SUMMARY|Test unit written' "$dir/$name.log" | head -n 5
	fi
done
echo "== summary"
printf '%s' "$summary"
if [ -n "$failed" ]; then
	echo "failed:$failed (see $dir/*.log and $dir/*-crash-*)" >&2
	exit 1
fi
exit 0
