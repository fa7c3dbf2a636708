#!/bin/sh
# bench/console.sh: how fast a guest program's output reaches the host, over the fast console
# (crumb as shipped: a virtio-serial port that crumb-init relays stdout/stderr to) against the old
# path (CRUMB_CONSOLE=uart: everything through the emulated 8250 UART), side by side, same kernel,
# crumb-init and busybox guest:
#   dd MB/s      busybox dd if=/dev/zero bs=1000000: MB (10^6 bytes) over the host's service
#                phase (exec marker → exit marker as crumb reads them, from --timing: the exit
#                marker comes after the last byte, so this is the time the bytes took to arrive)
#   dd 4k MB/s   the same in 4 KiB writes (what a program's stdio buffer writes to a pipe)
#   lines MB/s   busybox yes with a 64-byte line, through head -c: under TCG the guest's own
#                producer caps this one (~19 MB/s to /dev/null here)
#   boot s       wall seconds of `crumb run --exec /bin/true` (the relay's start and end included)
# The fast console moves SIZE MB (default 100) a round, the UART UART_SIZE MB (default 2: it does
# ~0.35 MB/s); every byte count is checked. Each figure is the median of N rounds (default 3).
# Columns: uart, virtio, virtio / uart.
# Usage: sh bench/console.sh   (CRUMB, KERNEL, N, SIZE, UART_SIZE may be set)
set -e
CRUMB=${CRUMB:-$(dirname "$0")/../crumb}
KERNEL=${KERNEL:-$("$CRUMB" kernel path)}
N=${N:-3}
SIZE=${SIZE:-100}
UART_SIZE=${UART_SIZE:-2}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export CRUMB_HOME=$W/home XDG_RUNTIME_DIR=$W
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }

# rate MODE MB CMD: MB/s of CMD's MB * 10^6 bytes of stdout under MODE ("" or uart). The UART
# path shows the kernel's lines amid the output (a few, under load): counted, not fatal.
rate() {
	CRUMB_CONSOLE=$1 "$CRUMB" run -q --timing --kernel "$KERNEL" --exec /bin/busybox -- \
		sh -c "$3" 2>"$W/err" >"$W/out"
	want=$(($2 * 1000000))
	got=$(wc -c <"$W/out")
	if [ "$got" -ne "$want" ] && { [ -z "$1" ] || [ "$got" -lt "$want" ]; }; then
		echo "bench/console.sh: ${1:-virtio}: got $got bytes, want $want" >&2
		exit 1
	elif [ "$got" -ne "$want" ]; then
		echo "(uart: $((got - want)) bytes more than the program wrote:" \
			"$(tr -d '\0' <"$W/out" | grep -a '^\[' | head -n 2 | tr '\n' ' '))" >>"$W/notes"
	fi
	awk -v b="$want" '/service \(exec → exit\)/ { printf "%.2f\n", b / 1e6 / ($(NF-1) / 1000) }' \
		"$W/err"
}
dd_cmd() { echo "busybox dd if=/dev/zero bs=1000000 count=$1 2>/dev/null"; }
dd4k_cmd() { echo "busybox dd if=/dev/zero bs=4000 count=$(($1 * 250)) 2>/dev/null"; }
lines_cmd() {
	echo "busybox yes 0123456789abcdef0123456789abcdef0123456789abcdef012345678901234 |
		busybox head -c $(($1 * 1000000))"
}
boot() {
	t0=$(now)
	CRUMB_CONSOLE=$1 "$CRUMB" run -q --kernel "$KERNEL" --exec /bin/true
	echo "$(now) $t0" | awk '{ printf "%.3f\n", $1 - $2 }'
}

: >"$W/all"
: >"$W/notes"
for i in $(seq "$N"); do
	# interleaved, so that a busy host weighs on both alike
	for mode in uart virtio; do
		m=$([ $mode = uart ] && echo uart || true)
		mb=$([ $mode = uart ] && echo "$UART_SIZE" || echo "$SIZE")
		echo "$mode dd $(rate "$m" "$mb" "$(dd_cmd "$mb")")" >>"$W/all"
		echo "$mode dd4k $(rate "$m" "$mb" "$(dd4k_cmd "$mb")")" >>"$W/all"
		echo "$mode lines $(rate "$m" "$mb" "$(lines_cmd "$mb")")" >>"$W/all"
		echo "$mode boot $(boot "$m")" >>"$W/all"
	done
done
get() { awk -v m="$1" -v r="$2" '$1 == m && $2 == r { print $3 }' "$W/all" | median; }
printf '%-12s %10s %10s %14s\n' "console" "uart" "virtio" "virtio / uart"
for row in dd dd4k lines boot; do
	u=$(get uart $row)
	v=$(get virtio $row)
	label=$(case $row in boot) echo "boot s" ;; dd4k) echo "dd 4k MB/s" ;; *) echo "$row MB/s" ;; esac)
	printf '%-12s %10s %10s %13.1fx\n' "$label" "$u" "$v" "$(echo "$v $u" | awk '{ print $1 / $2 }')"
done
echo "(N=$N rounds, medians; virtio moves $SIZE MB a round, uart $UART_SIZE MB; $(nproc) CPUs," \
	"$(grep -q '^flags.* \(vmx\|svm\)' /proc/cpuinfo && echo "KVM possible" || echo "TCG"))"
sort -u "$W/notes"
