#!/bin/sh
# bench/boot.sh: boot phases of crumb (its kernel + crumb-init running /bin/true) against a baseline
# (Debian's cloud kernel + busybox as init loading the virtio modules), N boots each, interleaved,
# through the same `crumb run` (same QEMU options, same host-side clock), as median and min-max per
# phase with the ratio crumb / baseline.
# Then a second table, "first answer": crumb warm (restored from `crumb warm`'s snapshot), crumb
# cold (`crumb run --cold`) and the same baseline kernel booting the same root filesystem with a
# busybox /init, for /bin/true (until `crumb run` exits), the httpd example (until the first HTTP
# answer) and the sshd example (until an SSH session, `ssh ... true`, has completed), on the host's
# clock from just before `crumb run` starts (bench/ready.py), interleaved, with ratios.
#   usage: bench/boot.sh [-n N] [--printk] [--cmdline ARGS] [--no-ready]     (default N=10)
#     --printk        also boot crumb with --timing (kernel log on the serial console), to show
#                     what printing the log costs under TCG
#     --cmdline ARGS  extra kernel command line for every variant of the first table
#     --no-ready      only the first table
#   env: CRUMB (default ./crumb), KERNEL (crumb's, from `crumb kernel path`),
#        BASE_KERNEL (default /boot/vmlinuz-*-cloud-amd64), BASE_MODULES (default: its virtio set)
set -eu
cd "$(dirname "$0")/.."
CRUMB=${CRUMB:-./crumb}
N=10 PRINTK=0 CMDLINE="" READY=1
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	--printk) PRINTK=1; shift ;;
	--cmdline) CMDLINE=$2; shift 2 ;;
	--no-ready) READY=0; shift ;;
	[0-9]*) N=$1; shift ;;
	*) echo "usage: bench/boot.sh [-n N] [--printk] [--cmdline ARGS] [--no-ready]" >&2; exit 2 ;;
	esac
done
KERNEL=${KERNEL:-$("$CRUMB" kernel path)}
BASE_KERNEL=${BASE_KERNEL:-$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1)}
[ -n "$BASE_KERNEL" ] && [ -r "$BASE_KERNEL" ] || {
	echo "bench/boot.sh: no Debian cloud kernel (apt-get install linux-image-cloud-amd64)" >&2
	exit 1
}
KVER=$(basename "$BASE_KERNEL" | sed 's/^vmlinuz-//')
MODDIR=/lib/modules/$KVER
BASE_MODULES=${BASE_MODULES:-"virtio_mmio virtio_net virtio_rng virtio_blk"}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crumb-bench-boot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# --- the baseline initramfs: busybox as init, the virtio modules in dependency order ---------
# The cloud kernel's .deb has no modules.dep: each module's .modinfo "depends=" gives the order.
modfile() { # NAME -> its .ko file ('-' and '_' are the same in module names)
	for n in "$1" "$(echo "$1" | tr _ -)" "$(echo "$1" | tr - _)"; do
		f=$(find "$MODDIR" -name "$n.ko" -o -name "$n.ko.xz" -o -name "$n.ko.zst" 2>/dev/null | head -1)
		[ -n "$f" ] && { echo "$f"; return 0; }
	done
	echo "bench/boot.sh: module $1 not found under $MODDIR" >&2
	return 1
}
ORDER=""
want() { # NAME: appends NAME after what it depends on, once
	case " $ORDER " in *" $1 "*) return 0 ;; esac
	f=$(modfile "$1")
	for d in $(/sbin/modinfo -F depends "$f" | tr , ' '); do want "$d"; done
	ORDER="$ORDER $1"
}
for m in $BASE_MODULES; do want "$m"; done
root=$tmp/base
mkdir -p "$root/bin" "$root/sbin" "$root/proc" "$root/dev" "$root/lib/modules"
cp /bin/busybox "$root/bin/busybox"
for m in $ORDER; do
	f=$(modfile "$m")
	case $f in
	*.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
	*) cp "$f" "$root/lib/modules/$m.ko" ;;
	esac
done
# The same markers as crumb-init (src/init/markers.h), unsigned (busybox has no HMAC; hence
# `crumb run --foreign-init`), so `crumb run` measures both alike: init
# first thing, exec once the modules are in, exit after the "service" (busybox true). The guest
# clock comes from /proc/uptime (10 ms steps).
cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
read up idle </proc/uptime; printf '\002crumb:init %s0000\003' "\$up"
for m in $ORDER; do /bin/busybox insmod /lib/modules/\$m.ko; done
read up idle </proc/uptime; printf '\002crumb:exec %s0000\003' "\$up"
/bin/busybox true; st=\$?
read up idle </proc/uptime; printf '\002crumb:exit %s0000 %d\003' "\$up" \$st
/bin/busybox reboot -f
EOF
chmod 755 "$root/init"
ln -s /init "$root/sbin/crumb-init" # crumb run boots with rdinit=/sbin/crumb-init
echo "/dev/console c 600 0 0 5 1 - - -" >"$tmp/devices"
if ! "$CRUMB" mkfs -t cpio --device-table "$tmp/devices" "$root" "$tmp/base.cpio" 2>"$tmp/mkfs.err"; then
	cat "$tmp/mkfs.err" >&2
	exit 1
fi

# --- the runs -----------------------------------------------------------------------------
# variant: name|command (eval'd); each prints crumb's boot-time line on stderr
C=${CMDLINE:+' --cmdline "$CMDLINE"'}
set -- "crumb|\"\$CRUMB\" run --kernel \"\$KERNEL\"$C --exec /bin/true" \
	"baseline|\"\$CRUMB\" run --foreign-init --kernel \"\$BASE_KERNEL\"$C --rootfs \"\$tmp/base.cpio\""
[ "$PRINTK" = 1 ] &&
	set -- "$@" "crumb --timing|\"\$CRUMB\" run --timing --kernel \"\$KERNEL\"$C --exec /bin/true"
echo "commands (interleaved, $N rounds; \$tmp is a scratch directory):"
for v in "$@"; do
	printf '  %-15s %s\n' "${v%%|*}:" "$(eval "echo ${v#*|}" | sed "s|$tmp|\$tmp|g")"
done
echo "  baseline /init: modules $ORDER from $MODDIR; $root/init is:" | sed "s|$tmp|\$tmp|g"
sed 's/^/      /' "$root/init"
echo "  baseline initramfs: $CRUMB mkfs -t cpio --device-table \$tmp/devices \$tmp/base $(
	) \$tmp/base.cpio ($(wc -c <"$tmp/base.cpio") bytes; crumb's: $("$CRUMB" pack --compress none --exec /bin/true -o "$tmp/crumb.cpio" >/dev/null 2>&1 && wc -c <"$tmp/crumb.cpio") bytes)"

# Phases from crumb's line "... qemu→init Ts, init→exec Ts, exec→exit Ts, exit→qemu gone Ts;
# total Ts (guest clock at init Ts)", or from the --timing table: fields, in ms:
# firmware kernel init service shutdown total qemu→init
extract() {
	awk '
	/boot: qemu→init/ {
		s = $0; gsub(/[^0-9. ]/, " ", s); n = split(s, f, " ")
		# f: qemu→init, init→exec, exec→exit, exit→gone, total, guest@init
		printf "%.1f %.1f %.1f %.1f %.1f %.1f %.1f\n", (f[1]-f[6])*1e3, f[6]*1e3, f[2]*1e3, f[3]*1e3, f[4]*1e3, f[5]*1e3, f[1]*1e3
		found = 1; exit
	}
	/qemu start → kernel entry/ { fw = $(NF-1) }
	/^ *kernel → init/ { k = $(NF-1) }
	/^ *init → exec/ { in_ = $(NF-1) }
	/service \(exec → exit\)/ { sv = $(NF-1) }
	/shutdown \(exit → qemu gone\)/ { sd = $(NF-1) }
	/^ *total/ { tot = $(NF-1) }
	END { if (!found && tot != "") printf "%s %s %s %s %s %s %.1f\n", fw, k, in_, sv, sd, tot, fw + k }' "$1"
}

i=0 fails=0
while [ "$i" -lt "$N" ]; do
	v=0
	for spec in "$@"; do
		if ! eval "${spec#*|}" >/dev/null 2>"$tmp/err"; then
			fails=$((fails + 1))
			echo "bench/boot.sh: ${spec%%|*} run $((i + 1)) failed: $(tail -1 "$tmp/err")" >&2
		fi
		sed -n 's/^crumb: \([a-z]*\) boot.*/\1/p; s/^crumb: boot timeline (\([a-z]*\)).*/\1/p' "$tmp/err" >>"$tmp/accel"
		row=$(extract "$tmp/err")
		if [ -n "$row" ]; then echo "$row" >>"$tmp/v$v"; else
			echo "bench/boot.sh: ${spec%%|*} run $((i + 1)): no boot times in: $(head -3 "$tmp/err")" >&2
		fi
		v=$((v + 1))
	done
	i=$((i + 1))
done

# median (min-max) of column $1 of file $2, in ms
stat() {
	[ -s "$2" ] || { echo "-"; return; }
	cut -d' ' -f"$1" "$2" | sort -n | awk '{a[NR] = $1}
	END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
	      printf "%.1f (%.1f-%.1f)\n", m, a[1], a[NR] }'
}
med() { stat "$@" | cut -d' ' -f1; }
echo
printf '%-28s' "phase, ms: median (min-max)"
for spec in "$@"; do printf ' %-24s' "${spec%%|*}"; done
printf ' %s\n' "crumb/baseline"
c=1
for phase in "qemu start → kernel entry" "kernel → init" "init → exec" "service (exec → exit)" \
	"shutdown (exit → qemu gone)" "total" "(qemu start → init)"; do
	# pad by characters, not bytes (the arrows are 3 bytes each)
	printf '%s%*s' "$phase" $((28 - $(printf '%s' "$phase" | wc -m))) ""
	v=0
	for spec in "$@"; do
		printf ' %-24s' "$(stat $c "$tmp/v$v")"
		v=$((v + 1))
	done
	a=$(med $c "$tmp/v0") b=$(med $c "$tmp/v1")
	printf ' %s\n' "$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }')"
	c=$((c + 1))
done
echo "$N boots per variant, interleaved; $(nproc) CPUs; accel as crumb chose ($(sort -u "$tmp/accel" | tr '\n' ' ' | sed 's/ $//'));" \
	"host clock; kernel entry = init marker's host time - its guest time (trust it only if the"
echo "guest's clock kept time: see crumb run --timing; 'qemu start → init' is host-only); $fails failed runs"
if ! grep -q '^CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y' "/boot/config-$KVER" 2>/dev/null; then
	echo "note: $KVER has no CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES: with acpi=off its virtio drivers load" \
		"but find no device (no eth0), so the baseline probes and configures less than crumb does"
fi
if [ "$PRINTK" = 1 ]; then
	lo() { cut -d' ' -f"$1" "$2" | sort -n | head -1; }
	awk -v a="$(med 6 "$tmp/v2")" -v b="$(med 6 "$tmp/v0")" -v ka="$(lo 6 "$tmp/v2")" -v kb="$(lo 6 "$tmp/v0")" \
		'BEGIN { printf "printing the kernel log (--timing) adds %.1f ms to the total by medians, %.1f ms by minima\n", a - b, ka - kb }'
fi

# --- first answer: crumb warm, crumb cold, baseline; /bin/true, httpd, sshd ---------------------
[ "$READY" = 1 ] || exit 0
command -v python3 >/dev/null && command -v ssh-keygen >/dev/null || {
	echo "bench/boot.sh: the first-answer table needs python3 and openssh-client" >&2
	exit 1
}
# A store of its own; slirp for every variant (the baseline's /init configures eth0 as slirp's).
export CRUMB_HOME="$tmp/home" CRUMB_NETDEV=slirp
ssh-keygen -q -t ed25519 -N '' -f "$tmp/key"
mkdir -p "$tmp/true"
printf '%s\n' 'FROM scratch' 'COPY --from=host --deps /bin/true /bin/true' \
	'ENTRYPOINT ["/bin/true"]' >"$tmp/true/Crumbfile"
build() { # TAG DIR [ARGS]: builds an image with crumb's kernel
	t=$1 d=$2
	shift 2
	"$CRUMB" build -q --kernel "$KERNEL" -t "$t" "$@" "$d" >/dev/null 2>"$tmp/build.err" || {
		cat "$tmp/build.err" >&2
		exit 1
	}
}
build true "$tmp/true"
build httpd examples/httpd
build sshd examples/sshd --build-arg AUTHORIZED_KEYS="$(cat "$tmp/key.pub")"
HP=$((20000 + $$ % 20000)) SP=$((20001 + $$ % 20000))
publish() { case $1 in httpd) echo "-p $HP:80" ;; sshd) echo "-p $SP:22" ;; esac; }
for img in true httpd sshd; do
	# shellcheck disable=SC2046
	"$CRUMB" warm $(publish $img) "$img" >/dev/null 2>"$tmp/warm.err" || {
		echo "bench/boot.sh: crumb warm $img failed: $(tail -1 "$tmp/warm.err")" >&2
		exit 1
	}
done

# The baseline: the same kernel as the first table booting the image's own archive with a busybox
# /init in front that loads the virtio modules, configures eth0 as crumb-init would (slirp's
# 10.0.2.15) and runs the service. It boots under QEMU directly with the same machine but
# acpi=on: Debian's kernel finds virtio-mmio devices only through ACPI (see the note above);
# The timer options crumb passes under TCG (src/lib/vmm_qemu.c): without them this kernel with
# ACPI stalls for tens of seconds in the APIC timer's calibration. With them, though, its clock
# stalls in places: `reboot -f` never ends, so /init resets the machine with sysrq's b (no device
# shutdown; QEMU's -no-reboot then exits).
baseline_rootfs() { # IMAGE SERVICE-COMMAND -> $tmp/base-IMAGE.cpio
	digest=$("$CRUMB" inspect "$1" | python3 -c 'import json,sys
for l in json.load(sys.stdin)[0]["Layers"]:
    if "rootfs" in l["MediaType"]: print(l["Digest"].split(":")[1])')
	f=$tmp/base-$1.cpio
	zstd -qdc "$CRUMB_HOME/blobs/sha256/$digest" >"$f"
	d=$tmp/b-$1/baseline
	mkdir -p "$d/modules"
	cp /bin/busybox "$d/busybox"
	for m in $ORDER; do cp "$root/lib/modules/$m.ko" "$d/modules/"; done
	cat >"$tmp/b-$1/init" <<EOI
#!/baseline/busybox sh
b=/baseline/busybox
\$b mount -t proc proc /proc
\$b mount -t devtmpfs dev /dev
\$b mkdir -p /run /tmp
for m in $ORDER; do \$b insmod /baseline/modules/\$m.ko; done
\$b ifconfig lo 127.0.0.1 up
\$b ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up 2>/dev/null
\$b route add default gw 10.0.2.2 2>/dev/null
$2
\$b echo b >/proc/sysrq-trigger
EOI
	chmod 755 "$tmp/b-$1/init"
	"$CRUMB" fs rm -f "$f:/init" 2>/dev/null
	"$CRUMB" fs cp -p -r "$tmp/b-$1/init" "$d" "$f:/" || exit 1
}
baseline_rootfs true "/bin/true"
baseline_rootfs httpd "/bin/busybox httpd -f -p 80 -h /www"
baseline_rootfs sshd "/sbin/sshd-start"
QEMU=${CRUMB_QEMU:-qemu-system-x86_64}
baseline() { # IMAGE [HOSTPORT GUESTPORT]: the baseline's QEMU command line
	echo "$QEMU -M microvm,accel=tcg,acpi=on -m 128 -smp 1 -nodefaults -no-user-config -display none" \
		"-serial file:\$tmp/serial-$1.txt -no-reboot -device virtio-rng-device -kernel \"\$BASE_KERNEL\"" \
		"-initrd \$tmp/base-$1.cpio -append 'console=ttyS0 quiet panic=-1 reboot=t no_timer_check noapictimer lpj=790528 rdinit=/init'" \
		${2:+"-netdev user,id=n0,hostfwd=tcp:127.0.0.1:$2-:$3 -device virtio-net-device,netdev=n0"}
}

# variant: SERVICE|MODE|clock|command
set --
for img in true httpd sshd; do
	case $img in
	true) clock=exit ;; httpd) clock="http $HP" ;; sshd) clock="ssh $SP $tmp/key" ;;
	esac
	p=$(publish $img)
	set -- "$@" "$img|crumb warm|$clock|\"\$CRUMB\" run $p $img" \
		"$img|crumb cold|$clock|\"\$CRUMB\" run --cold $p $img" \
		"$img|baseline|$clock|$(baseline $img $(publish $img | tr ':' ' ' | cut -c4-))"
done
echo
echo "first answer: commands (interleaved, $N rounds; CRUMB_NETDEV=slirp; the images were made ready with"
echo "'crumb warm [-p ...] IMAGE'; the baseline's rootfs is the image's archive with a busybox /init,"
echo "booted by QEMU with acpi=on):"
for v in "$@"; do
	rest=${v#*|} mode=${rest%%|*} rest=${rest#*|}
	printf '  %-6s %-11s %s\n' "${v%%|*}" "$mode:" "$(eval "echo ${rest#*|}" | sed "s|$tmp|\$tmp|g")"
done
i=0 fails=0
while [ "$i" -lt "$N" ]; do
	v=0
	for spec in "$@"; do
		rest=${spec#*|} rest=${rest#*|} clock=${rest%%|*} cmd=${rest#*|}
		# shellcheck disable=SC2086
		t=$(eval "READY_ERR=\"$tmp/ready.err\" python3 bench/ready.py $clock -- $cmd")
		case $t in
		fail*) fails=$((fails + 1))
			echo "bench/boot.sh: $(echo "$spec" | cut -d'|' -f1-2) run $((i + 1)): $t: $(tail -1 "$tmp/ready.err")" >&2 ;;
		*) echo "$t" | awk '{ printf "%.1f\n", $1 * 1000 }' >>"$tmp/r$v" ;;
		esac
		v=$((v + 1))
	done
	i=$((i + 1))
done
printf '\n%-22s %-24s %-24s %-24s %s\n' "to first answer, ms" "crumb warm" "crumb cold" "baseline" "warm/cold warm/base cold/base"
v=0
for img in true httpd sshd; do
	case $img in true) what="/bin/true (exit)" ;; httpd) what="httpd (HTTP answer)" ;; sshd) what="sshd (SSH session)" ;; esac
	printf '%-22s %-24s %-24s %-24s' "$what" "$(stat 1 "$tmp/r$v")" "$(stat 1 "$tmp/r$((v + 1))")" "$(stat 1 "$tmp/r$((v + 2))")"
	w=$(med 1 "$tmp/r$v") c=$(med 1 "$tmp/r$((v + 1))") b=$(med 1 "$tmp/r$((v + 2))")
	awk -v w="$w" -v c="$c" -v b="$b" 'function r(x, y) { return (x == "-" || y == "-" || y + 0 == 0) ? "-" : sprintf("%.2f", x / y) }
		BEGIN { printf " %-9s %-9s %s\n", r(w, c), r(w, b), r(c, b) }'
	v=$((v + 3))
done
echo "$N runs per cell, interleaved; median (min-max) on the host's monotonic clock from just before"
echo "'crumb run' starts; $(nproc) CPUs; $fails failed runs"
