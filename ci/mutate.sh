#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mutate.sh: the mutation run behind `make mutate`.  For each mutation in
# ci/mutations, runs `ci/pinlab.sh check` with MUTATE set on the kernels
# and programs the file names, and checks that every listed program turned
# red (at least one "not ok" result) on every listed kernel; a "host"
# entry names a ci/ script that must fail under the mutation.  Prints one
# line per mutation, kernel and program, and a summary
# "N passed, N failed, N skipped" in which a pass is a verdict that failed
# as it should.
#
# Environment: MUTATIONS (subset of mutation names), KERNELS (subset of
# kernels), as for make check.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

table=$PINLAB_ROOT/ci/mutations
muts=${MUTATIONS:-$(awk '!/^#/ && NF >= 3 {print $1}' "$table" | sort -u)}
[ -n "$muts" ] || die "ci/mutations lists no mutation"
pass=0 fail=0 n=0
summary=$(mktemp)
for m in $muts; do
	# Host entries: "<mutation> host <script>": ci/<script>.sh passes
	# as it is and fails with MUTATE set.  No VM, whatever KERNELS.
	for t in $(awk -v m="$m" '$1 == m && $2 == "host" {for (i = 3; i <= NF; i++) print $i}' "$table"); do
		n=$((n + 1))
		step "mutation $m on the host: ci/$t.sh"
		mkdir -p "$PINLAB_RESULTS"
		log=$PINLAB_RESULTS/mutate-$m-$t.log
		if ! MUTATE='' bash "$PINLAB_ROOT/ci/$t.sh" > "$log" 2>&1; then
			fail=$((fail + 1))
			echo "not ok $n mutate/$m/host/$t # red without the mutation: proves nothing" >> "$summary"
		elif MUTATE=$m bash "$PINLAB_ROOT/ci/$t.sh" > "$log" 2>&1; then
			fail=$((fail + 1))
			echo "not ok $n mutate/$m/host/$t # stayed green: it cannot see this defect" >> "$summary"
		else
			pass=$((pass + 1))
			echo "ok $n mutate/$m/host/$t # turned red" >> "$summary"
		fi
		grep -v '^\[pinlab' "$log" | sed "s/^/# $m: /" >> "$summary"
	done
	kernels=$(awk -v m="$m" '$1 == m && $2 != "host" {print $2}' "$table" | sort -u)
	[ -n "${KERNELS:-}" ] && kernels=$(for k in $kernels; do
		case " $KERNELS " in *" $k "*) echo "$k" ;; esac; done)
	[ -n "$kernels" ] || continue
	tests=$(awk -v m="$m" '$1 == m {for (i = 3; i <= NF; i++) print $i}' "$table" | sort -u)
	step "mutation $m on $(echo $kernels): $(echo $tests)"
	MUTATE=$m KERNELS="$(echo $kernels)" TESTS="$(echo $tests)" \
		bash "$PINLAB_ROOT/ci/pinlab.sh" check > /dev/null 2>&1
	ktap=$PINLAB_RESULTS/latest/results.ktap
	[ -e "$ktap" ] || die "mutation $m: no results.ktap"
	cp "$ktap" "$PINLAB_RESULTS/latest/../mutate-$m.ktap"
	for k in $kernels; do
		for t in $(awk -v m="$m" -v k="$k" '$1 == m && $2 == k {for (i = 3; i <= NF; i++) print $i}' "$table"); do
			n=$((n + 1))
			red=$(grep -cE "^not ok [0-9]+ $k/$t(/|:)" "$ktap")
			if [ "$red" -gt 0 ]; then
				pass=$((pass + 1))
				echo "ok $n mutate/$m/$k/$t # $red verdicts turned red" >> "$summary"
			else
				fail=$((fail + 1))
				echo "not ok $n mutate/$m/$k/$t # stayed green: its verdicts cannot see this defect" >> "$summary"
			fi
		done
	done
	# Every other red verdict, for the record (not a failure).
	grep -E '^not ok ' "$ktap" | sed "s/^/# $m: /" >> "$summary"
done
echo "TAP version 13"
echo "1..$n"
cat "$summary"
rm -f "$summary"
echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
