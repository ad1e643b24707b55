#!/bin/bash
# procnet.sh - helpers for procnet experiment scripts, in the style of the kernel's kselftests.
#
# Source it from a script run by `procnet run` (which exports PROCNET, the mountpoint):
#     . "$(procnet libpath)"
# Only cat, echo and shell are used, so a script reads the same against a real host
# (set PROCNET=/ there and skip the procnet/ control files).
#
#   pn_write FILE VALUE       echo VALUE > $PROCNET/FILE; [fail] with the error if refused
#   pn_read FILE              cat $PROCNET/FILE
#   pn_check DESC EXPECTED FOUND     print [ ok ] DESC or [fail] DESC: expected X found Y
#   pn_expect FILE EXPECTED   pn_check on the file's content
#   pn_save FILE...           remember values; pn_restore (run on EXIT) writes them back
#   pn_advance DURATION       simulate DURATION (manual clock) e.g. 100ms
#   pn_snapshot LABEL         append "LABEL<TAB>stats.json" to $PN_OUT/$PN_VARIANT.snapshots
#   pn_stat KEY               a top-level number from procnet/stats.json (offered, delivered...)
#   pn_summary                exit status: 0 if no check failed

PN_FAILS=0
PN_SAVED=()

pn_write() {
	local file=$1; shift
	if ! echo "$*" > "$PROCNET/$file"; then
		echo "[fail] write '$*' to $file refused"
		PN_FAILS=$((PN_FAILS + 1))
		return 1
	fi
}

pn_read() {
	cat "$PROCNET/$1"
}

pn_check() {
	local desc=$1 expected=$2 found=$3
	if [ "$expected" = "$found" ]; then
		echo "[ ok ] $desc"
	else
		echo "[fail] $desc: expected $expected found $found"
		PN_FAILS=$((PN_FAILS + 1))
	fi
}

pn_expect() {
	pn_check "$1 = $2" "$2" "$(pn_read "$1")"
}

pn_save() {
	local f
	for f in "$@"; do
		PN_SAVED+=("$f" "$(pn_read "$f")")
	done
}

pn_restore() {
	local i
	for ((i = 0; i < ${#PN_SAVED[@]}; i += 2)); do
		echo "${PN_SAVED[i+1]}" > "$PROCNET/${PN_SAVED[i]}" 2>/dev/null
	done
}
trap pn_restore EXIT

pn_advance() {
	echo "$1" > "$PROCNET/procnet/clock/advance"
}

pn_snapshot() {
	[ -n "$PN_OUT" ] || return 0
	{ printf '%s\t' "$1"; tr -d '\n' < "$PROCNET/procnet/stats.json"; echo; } \
		>> "$PN_OUT/${PN_VARIANT:-run}.snapshots"
}

pn_stat() {
	# Top-level keys of stats.json are one per line: "key": value,
	sed -n "s/^ \"$1\": \\([0-9.a-z]*\\),\\{0,1\\}\$/\\1/p" "$PROCNET/procnet/stats.json"
}

pn_summary() {
	if [ "$PN_FAILS" -eq 0 ]; then
		echo "[ ok ] all checks passed"
		return 0
	fi
	echo "[fail] $PN_FAILS check(s) failed"
	return 1
}
