# tests/e2e/vmm.sh: crumb run --vmm firecracker|cloud-hypervisor: a missing binary, a bad --vmm,
# the refusals of what only QEMU does (before anything runs, leaving nothing behind), a missing
# KVM; and, only where a real binary and a working KVM are present, boots through them.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/vmm
mkdir -p "$T/empty" "$T/tmp" "$T/xdg" "$T/share"
# Our own temporary and state roots, to see that a failed run leaves nothing in them.
export TMPDIR=$T/tmp XDG_RUNTIME_DIR=$T/xdg
# The real binaries, looked up before the tests change PATH and CRUMB_*.
real_fc=${CRUMB_FIRECRACKER:-$(command -v firecracker)}
real_ch=${CRUMB_CLOUD_HYPERVISOR:-$(command -v cloud-hypervisor)}
unset CRUMB_FIRECRACKER CRUMB_CLOUD_HYPERVISOR
r() { "$CRUMB" run -q --kernel "$KERNEL" "$@"; }
# nothing_left: no temporary file or state directory survives a failed run
nothing_left() { [ -z "$(ls -A "$T/tmp")" ] && [ -z "$(ls -A "$T/xdg" 2>/dev/null)" ]; }
kvm_ok() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

for vmm in firecracker cloud-hypervisor; do
	PATH=$T/empty r --vmm $vmm --exec /bin/true >"$T/out" 2>"$T/err"
	is $? 125 "--vmm $vmm with no $vmm on PATH exits 125"
	one_line_error "$T/err" && grep -q "$vmm not found in PATH" "$T/err" && grep -q 'github.com/' "$T/err"
	ok $? "... with one line and an install hint"
	diag "$(cat "$T/err")"
	[ ! -s "$T/out" ] && nothing_left; ok $? "... printing and leaving nothing"
done

r --vmm bogus --exec /bin/true 2>"$T/err"
is $? 125 "--vmm bogus is a usage error (125)"
one_line_error "$T/err" && grep -q "unknown VMM 'bogus' (want qemu, firecracker or cloud-hypervisor)" "$T/err"
ok $? "... naming the choices"

# A stand-in binary: the refusals come before it would run.
printf '#!/bin/sh\ntouch "%s/ran"\nexit 1\n' "$T" >"$T/fake"
chmod +x "$T/fake"
refused() { # refused VMM DESC GREP ARGS...
	v=$1 d=$2 g=$3
	shift 3
	rm -f "$T/ran"
	CRUMB_FIRECRACKER=$T/fake CRUMB_CLOUD_HYPERVISOR=$T/fake r --vmm "$v" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 125 ] && one_line_error "$T/err" && grep -q -- "$g" "$T/err" && [ ! -e "$T/ran" ] &&
		nothing_left; then ok 0 "$d"; else
		ok 1 "$d"
		diag "exit $rc: $(cat "$T/err")"
	fi
}
refused firecracker "-p with firecracker is refused, naming both" "^crumb: run: -p: --vmm firecracker" \
	-p 8080:80 --exec /bin/true
refused cloud-hypervisor "--net user with cloud-hypervisor is refused" "--net user: --vmm cloud-hypervisor" \
	--net user --exec /bin/true
refused firecracker "-d with firecracker is refused (crumb stop needs QEMU)" "^crumb: run: -d: --vmm firecracker" \
	-d --exec /bin/true
refused cloud-hypervisor "--name with cloud-hypervisor is refused" "^crumb: run: --name: --vmm cloud-hypervisor" \
	--name x --exec /bin/true
refused firecracker "--accel tcg with firecracker is refused" "--accel tcg: --vmm firecracker runs on KVM only" \
	--accel tcg --exec /bin/true
refused firecracker "-v HOSTDIR (9p) with firecracker is refused" "-v $T/share: .*9p.*firecracker" \
	-v "$T/share:/mnt" --exec /bin/true
refused cloud-hypervisor "cloud-hypervisor with a config disk and the crumb kernel (no PCI) is refused" \
	"cloud-hypervisor's disks are virtio-pci" --hostname h --exec /bin/true
if kvm_ok; then
	skip "a missing KVM is one line" "/dev/kvm is here"
else
	refused firecracker "firecracker without KVM: one line, exit 125" "^crumb: firecracker needs KVM: /dev/kvm" \
		--exec /bin/true
	diag "$(cat "$T/err")"
fi
r --net none --exec /bin/true 2>"$T/err"
is $? 0 "--net none still boots under QEMU (the default VMM)"

# Real boots, where a real binary and KVM are present.
boot_through() { # boot_through VMM BINARY
	v=$1 bin=$2
	if [ -z "$bin" ]; then
		skip "boot /bin/true through $v" "no $v binary on PATH (not in Debian's archive)"
		return
	fi
	if ! kvm_ok; then
		skip "boot /bin/true through $v" "KVM is not usable here (/dev/kvm)"
		return
	fi
	export CRUMB_FIRECRACKER="$real_fc" CRUMB_CLOUD_HYPERVISOR="$real_ch"
	r --vmm "$v" --timeout 60 --exec /bin/true 2>"$T/err"
	is $? 0 "boot /bin/true through $v: exit 0"
	diag "$(cat "$T/err")"
	out=$(r --vmm "$v" --timeout 60 --exec /bin/sh -- -c 'echo hi from $(uname -r); exit 3' 2>"$T/err")
	is "$?:$(echo "$out" | cut -c1-8)" "3:hi from " "through $v: the program's output and exit status"
	"$CRUMB" run --kernel "$KERNEL" --vmm "$v" --timeout 60 --exec /bin/true 2>"$T/err" >/dev/null
	grep -q '^crumb: kvm boot: ' "$T/err"; ok $? "through $v: the boot-time line (kvm)"
	unset CRUMB_FIRECRACKER CRUMB_CLOUD_HYPERVISOR
}
boot_through firecracker "$real_fc"
if [ -n "$real_fc" ] && kvm_ok; then
	out=$(CRUMB_FIRECRACKER=$real_fc r --vmm firecracker --timeout 60 --hostname fc1 --exec /bin/hostname 2>"$T/err")
	is "$?:$out" "0:fc1" "through firecracker: the run config on the config disk (--hostname)"
else
	skip "the config disk through firecracker" "no firecracker binary or no usable KVM"
fi
boot_through cloud-hypervisor "$real_ch"
done_testing
