#!/bin/sh
# docs/STYLE.md: functions certgate does not use (curl's list), checked over every source file.
. "${top_srcdir:-.}/tests/lib.sh"
banned='sprintf|vsprintf|strcpy|strcat|strncpy|strncat|strtok|sscanf|atoi|atol|gmtime|localtime|alloca|gets'
for f in $(cd "${top_srcdir:-.}" && ls backend/*.c backend/*.h gateway/*.c gateway/*.h protocols/*.c protocols/*.h tests/*.c tests/*.h 2>/dev/null); do
	hits=$(grep -nE "(^|[^A-Za-z0-9_])($banned)[[:space:]]*\(" "${top_srcdir:-.}/$f" | grep -vE '^[0-9]+:[[:space:]]*(/\*|\*)' || true)
	if [ -n "$hits" ]; then
		ok 1 "/style/banned/$f"
		diag "$hits"
	else
		ok 0 "/style/banned/$f"
	fi
done
lib_done
