#!/bin/sh
# bench/boot-exec.sh: boots `crumb run --exec /bin/true` N times for each kernel command-line
# variant (rounds interleaved, so machine noise hits every variant alike) and prints a table of
# medians per boot phase, measured on the host, with each variant's total as a ratio of the first.
#   usage: bench/boot-exec.sh [N] [-- CMDLINE-VARIANT...]     (default N=5)
set -eu
cd "$(dirname "$0")/.."
CRUMB=${CRUMB:-./crumb}
N=${1:-5}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
if [ $# -eq 0 ]; then
	set -- "" "rodata=off" "lpj=1241088 no_timer_check" "rodata=off lpj=1241088 no_timer_check cryptomgr.notests"
fi
KERNEL=${KERNEL:-$("$CRUMB" kernel path)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

i=0
while [ "$i" -lt "$N" ]; do
	v=0
	for c in "$@"; do
		"$CRUMB" run --kernel "$KERNEL" --cmdline "$c" --exec /bin/true 2>"$tmp/err" >/dev/null
		sed -n 's/.*qemu→init \([0-9.]*\)s, init→exec \([0-9.]*\)s, exec→exit \([0-9.]*\)s, exit→qemu gone \([0-9.]*\)s; total \([0-9.]*\)s (guest clock at init \([0-9.]*\)s).*/\1 \2 \3 \4 \5 \6/p' \
			"$tmp/err" >>"$tmp/v$v"
		v=$((v + 1))
	done
	i=$((i + 1))
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '%-58s %9s %9s %9s %9s %9s %9s %6s\n' "kernel cmdline (+ crumb's own)" qemu→init init→exec exec→exit exit→gone total guest@init ratio
v=0
base=""
for c in "$@"; do
	set --
	for col in 1 2 3 4 5 6; do
		set -- "$@" "$(cut -d' ' -f$col "$tmp/v$v" | median)"
	done
	[ -z "$base" ] && base=$5
	printf '%-58s %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %6.2f\n' "${c:-(none)}" "$1" "$2" "$3" "$4" "$5" "$6" \
		"$(echo "$5 $base" | awk '{print $1/$2}')"
	v=$((v + 1))
done
echo "medians of $N boots each, seconds, $(nproc) CPUs, accel as crumb chose; guest@init is the guest's own clock"
