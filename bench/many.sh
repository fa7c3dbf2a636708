#!/bin/sh
# bench/many.sh: starts N detached VMs at once (`crumb run -d`), waits until all are up, stops them
# all at once, and reports time to all-up, time to all-stopped, failures and the peak of the summed
# RSS of their QEMU processes.
#   usage: bench/many.sh [N]     (default 20)
#   env: CRUMB (default ./crumb), KERNEL (default `crumb kernel path`), TIMEOUT (seconds a VM may
#        take to come up, default 300), MEM (guest memory, default crumb's own choice),
#        CMDLINE (extra kernel command line)
set -eu
cd "$(dirname "$0")/.."
CRUMB=${CRUMB:-./crumb}
N=${1:-20}
TIMEOUT=${TIMEOUT:-300}
KERNEL=${KERNEL:-$("$CRUMB" kernel path)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crumb-bench-many.XXXXXX")
# A store of our own, so that `crumb ps` and the names are ours alone.
export CRUMB_HOME="$tmp/home"
prefix=many$$
cleanup() {
	# Whatever is left (an interrupted run): kill our VMs by name, then drop the scratch dir.
	names=$("$CRUMB" ps -a -q 2>/dev/null | grep "^$prefix-" || true)
	[ -n "$names" ] && "$CRUMB" rm -f $names >/dev/null 2>&1 || true
	[ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
now() { awk '{ print $1 }' /proc/uptime; } # 10 ms steps: enough for seconds-long phases

# The service: sleep until stopped, packed once so that the runs measure booting, not packing.
"$CRUMB" pack --compress none --exec /bin/sleep -o "$tmp/sleep.cpio" -- 100000 >/dev/null
MEMOPT=${MEM:+-m $MEM}
CMDLINE=${CMDLINE:-}
echo "command, N=$N at once: $CRUMB run -d --name $prefix-I --kernel $KERNEL $MEMOPT${CMDLINE:+ --cmdline '$CMDLINE'} --timeout $((TIMEOUT * 4)) --rootfs \$tmp/sleep.cpio"
echo "then: $CRUMB stop NAME (all at once), $CRUMB rm NAME...; \$tmp=$tmp; $(nproc) CPUs, $(free -m | awk '/^Mem/ { print $2 }') MiB"

# The QEMU processes booting our root filesystem (its path is on their command line).
qemu_pids() {
	for p in $(pgrep -f "$tmp/sleep.cpio" 2>/dev/null || true); do
		case $(cat "/proc/$p/comm" 2>/dev/null) in qemu-system*) echo "$p" ;; esac
	done
}
# Sum of their VmRSS, KiB.
rss_sum() {
	t=0
	for p in $(qemu_pids); do
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
		t=$((t + ${r:-0}))
	done
	echo "$t"
}
count() { ls "$tmp" | grep -c "$1" || true; }
(
	peak=0
	while :; do
		s=$(rss_sum)
		[ "$s" -gt "$peak" ] && peak=$s && echo "$peak" >"$tmp/peak"
		sleep 0.2
	done
) &
sampler=$!

t0=$(now)
i=1 pids=""
while [ "$i" -le "$N" ]; do
	(
		if "$CRUMB" run -d --name "$prefix-$i" --kernel "$KERNEL" $MEMOPT --cmdline "$CMDLINE" \
			--timeout $((TIMEOUT * 4)) --rootfs "$tmp/sleep.cpio" >"$tmp/run$i.out" 2>"$tmp/run$i.err"; then
			echo "$(now)" >"$tmp/up$i"
		else
			echo "$(now) $?" >"$tmp/fail$i"
		fi
	) &
	pids="$pids $!"
	i=$((i + 1))
done
wait $pids # every run -d has returned: up, or failed
t_up=$(cat "$tmp"/up* 2>/dev/null | sort -n | tail -1)
up=$(count '^up')
run_fail=$((N - up))
running=$("$CRUMB" ps -q 2>/dev/null | grep -c "^$prefix-" || true)
for f in "$tmp"/fail*; do [ -e "$f" ] && echo "run ${f##*fail} failed: $(tail -1 "$tmp/run${f##*fail}.err")" >&2; done

t1=$(now)
pids=""
for name in $("$CRUMB" ps -q | grep "^$prefix-" || true); do
	(
		if "$CRUMB" stop "$name" >/dev/null 2>"$tmp/stop-$name.err"; then
			echo "$(now)" >"$tmp/down-$name"
		else
			echo "$(now)" >"$tmp/stopfail-$name"
		fi
	) &
	pids="$pids $!"
done
wait $pids # every stop has returned
t_down=$(cat "$tmp"/down-* 2>/dev/null | sort -n | tail -1)
stopped=$(count '^down-')
stop_fail=$((running - stopped))
for f in "$tmp"/stopfail-*; do [ -e "$f" ] && echo "stop ${f##*stopfail-} failed: $(tail -1 "$tmp/stop-${f##*stopfail-}.err")" >&2; done
sleep 0.5
left=$(qemu_pids | wc -l)
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=
exits=$("$CRUMB" ps -a 2>/dev/null | grep "^$prefix-" | awk '{ print $NF }' | sort | uniq -c |
	awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }' || true)
peak=$(cat "$tmp/peak" 2>/dev/null || echo 0)

printf '\n%-34s %s\n' "VMs started at once" "$N"
printf '%-34s %s\n' "came up (run -d returned 0)" "$up"
printf '%-34s %s\n' "running per 'crumb ps'" "$running"
printf '%-34s %s\n' "time to all up" "$(awk -v a="${t_up:-$t0}" -v b="$t0" 'BEGIN { printf "%.2f s", a - b }')"
printf '%-34s %s\n' "time to all stopped" "$(awk -v a="${t_down:-$t1}" -v b="$t1" 'BEGIN { printf "%.2f s", a - b }')"
printf '%-34s %s\n' "failures" "$run_fail to start, $stop_fail to stop, $left QEMU left over"
printf '%-34s %s\n' "peak summed QEMU RSS" "$(awk -v p="$peak" -v n="$N" 'BEGIN { printf "%.0f MiB (%.1f MiB per VM)", p / 1024, p / 1024 / n }')"
printf '%-34s %s\n' "exit statuses ('crumb ps -a')" "$exits (143: SIGTERM, as stop sends it)"
[ "$run_fail" -eq 0 ] && [ "$stop_fail" -eq 0 ] && [ "$left" -eq 0 ]
