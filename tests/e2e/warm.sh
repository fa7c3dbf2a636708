# tests/e2e/warm.sh: warm start: crumb warm snapshots an image's VM, crumb run restores it (the
# --timing phases say so), two restored instances share no random state (uuid, urandom, sshd
# host keys by ssh-keyscan), the clock is the host's; another image or -m boots cold, so does
# --cold; a corrupted snapshot is refused with one line and the run boots cold and works; crumb
# rmi removes the snapshots of images gone; httpd restored with -p answers curl.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/warm
mkdir -p "$T/ctx" "$T/xdg"
export XDG_RUNTIME_DIR=$T/xdg # our own VM state root: ps sees only our VMs
top=$(cd "$(dirname "$0")/../.." && pwd)
started=""
finish() { for vm in $started; do "$CRUMB" rm -f "$vm" >/dev/null 2>&1; done; }
trap finish EXIT
retry() {
	end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
snaps() { ls "$CRUMB_HOME/snapshots/$1" 2>/dev/null | grep -c .; }

cat >"$T/ctx/Crumbfile" <<'EOF'
FROM scratch
COPY --from=host /bin/busybox /bin/busybox
COPY www/ /www/
ENTRYPOINT ["/bin/busybox"]
CMD ["true"]
EOF
mkdir -p "$T/ctx/www"
echo "warm one" >"$T/ctx/www/index.html"
"$CRUMB" build -q --kernel "$KERNEL" -t warmbox "$T/ctx" >/dev/null 2>"$T/err"
ok $? "build a busybox image"

# 1. crumb warm, then two restored instances.
"$CRUMB" warm warmbox >"$T/warm.out" 2>"$T/err"
ok $? "crumb warm warmbox"
grep -q "^snapshot of warmbox: [0-9.]* MB, sha256:" "$T/warm.out"; ok $? "... says what it stored"
diag "$(cat "$T/warm.out" "$T/err")"
is "$(snaps index)" 1 "... one index entry in the store"
is "$(snaps blobs)" 1 "... and one snapshot blob"

probe='cat /proc/sys/kernel/random/uuid; head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n"; echo; date +%s; hostname'
"$CRUMB" run --timing --hostname one warmbox sh -c "$probe" >"$T/a" 2>"$T/a.err"
is $? 0 "crumb run warmbox (restored): exit 0"
grep -q "^crumb: \(tcg\|kvm\) warm start, [0-9.]* MB of state:" "$T/a.err"; ok $? "... --timing shows a warm start"
for ph in "state loaded (paused)" "digest checked" "cont (running)" "config sent (ctl port)" \
	"service started (exec)"; do
	grep -F "  $ph " "$T/a.err" | grep -Eq '^  .* +[0-9.]+ +[0-9.]+$'
	ok $? "... with the phase $ph"
done
diag "$(cat "$T/a.err")"
"$CRUMB" run -q warmbox sh -c "$probe" >"$T/b" 2>"$T/b.err"
is $? 0 "a second restored instance: exit 0"
is "$(sed -n 4p "$T/a")" "one" "... the config comes after the restore (--hostname one)"
is "$(sed -n 4p "$T/b")" "crumb" "... (the other has the default)"
[ -n "$(sed -n 1p "$T/a")" ] && [ "$(sed -n 1p "$T/a")" != "$(sed -n 1p "$T/b")" ]
ok $? "two restored instances: different /proc/sys/kernel/random/uuid"
[ "$(sed -n 2p "$T/a" | wc -c)" -eq 65 ] && [ "$(sed -n 2p "$T/a")" != "$(sed -n 2p "$T/b")" ]
ok $? "... different /dev/urandom bytes"
now=$(date +%s) g=$(sed -n 3p "$T/b")
[ "$g" -gt $((now - 30)) ] && [ "$g" -le $((now + 1)) ]; ok $? "... the guest's clock is the host's ($g vs $now)"

# 2. --cold, another shape, another image.
"$CRUMB" run --cold warmbox echo cold >"$T/c" 2>"$T/c.err"
is "$(cat "$T/c")" "cold" "--cold: runs"
grep -q "boot: qemu→init" "$T/c.err" && ! grep -q "warm start" "$T/c.err"; ok $? "... and boots cold"
"$CRUMB" run -m 200M warmbox echo m200 >"$T/c" 2>"$T/c.err"
is "$(cat "$T/c")" "m200" "-m 200M (another shape): runs"
grep -q "boot: qemu→init" "$T/c.err" && ! grep -q "warm start" "$T/c.err"; ok $? "... and boots cold"
"$CRUMB" run -v "$T/xdg:/mnt" warmbox echo vol >"$T/c" 2>"$T/c.err"
grep -q "boot: qemu→init" "$T/c.err" && ! grep -q "warm start" "$T/c.err"; ok $? "a volume: boots cold"

# 3. A corrupted snapshot: one line, then a cold boot that works.
blob=$(ls "$CRUMB_HOME"/snapshots/blobs/* | head -1)
cp "$blob" "$T/good"
size=$(stat -c %s "$blob")
printf '\377\377\377\377' | dd of="$blob" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
out=$("$CRUMB" run -q warmbox echo works 2>"$T/err")
is "$out" "works" "a snapshot with flipped bytes: the run still works"
one_line_error "$T/err" && grep -q "^crumb: snapshot sha256:[0-9a-f]*\.\.\.: digest mismatch.*; booting cold$" "$T/err"
ok $? "... after one line: digest mismatch; booting cold"
diag "$(cat "$T/err")"
head -c 1000 "$T/good" >"$blob"
out=$("$CRUMB" run -q warmbox echo works 2>"$T/err")
is "$out" "works" "a truncated snapshot: the run still works"
one_line_error "$T/err" && grep -q "booting cold$" "$T/err"; ok $? "... after one line"
cp "$T/good" "$blob"
"$CRUMB" run warmbox true 2>"$T/err"
grep -q "warm start" "$T/err"; ok $? "the snapshot repaired: restored again"
[ -z "$(ps -eo args | grep "[q]emu-system.*$T")" ]; ok $? "no QEMU left behind"

# 4. A service: httpd restored with -p answers curl.
p1=$(free_port)
"$CRUMB" warm -p "$p1:80" warmbox >/dev/null 2>"$T/err"; ok $? "crumb warm -p (a shape with published ports)"
is "$(snaps index)" 2 "... a second index entry"
p2=$(free_port)
started="$started web"
"$CRUMB" run -d --name web -p "127.0.0.1:$p2:80" warmbox httpd -f -p 80 -h /www >/dev/null 2>"$T/err"
ok $? "crumb run -d -p ... httpd (another host port: the same shape)"
retry 20 curl -sf -m 2 -o "$T/page" "http://127.0.0.1:$p2/"; ok $? "... curl gets an answer"
is "$(cat "$T/page")" "warm one" "... the page"
"$CRUMB" stop web >/dev/null 2>&1 && "$CRUMB" rm web >/dev/null 2>&1; ok $? "... crumb stop and rm"

# 5. Per-instance secrets: the sshd example's host key is made after the restore.
if command -v ssh-keyscan >/dev/null; then
	# A key of this run's as the build arg: an image of its own (the suite's store is shared,
	# and examples.sh builds examples/sshd without one: the same digest, still tagged there).
	ssh-keygen -q -t ed25519 -N '' -f "$T/id" >/dev/null
	"$CRUMB" build -q --kernel "$KERNEL" -t warmsshd --build-arg AUTHORIZED_KEYS="$(cat "$T/id.pub")" \
		"$top/examples/sshd" >/dev/null 2>"$T/err"
	ps=$(free_port)
	"$CRUMB" warm -p "$ps:22" warmsshd >/dev/null 2>"$T/err"; ok $? "crumb warm -p sshd"
	for i in 1 2; do
		pi=$(free_port)
		started="$started ssh$i"
		"$CRUMB" run -d --name "ssh$i" -p "127.0.0.1:$pi:22" -e AUTHORIZED_KEYS="$(cat "$T/id.pub")" \
			warmsshd >/dev/null 2>"$T/err"
		retry 30 sh -c "ssh-keyscan -T 3 -p $pi 127.0.0.1 2>/dev/null | grep -v '^#' | sort >'$T/key$i'; [ -s '$T/key$i' ]"
		ok $? "restored sshd $i: ssh-keyscan gets its host key"
		"$CRUMB" rm -f "ssh$i" >/dev/null 2>&1
	done
	! cmp -s "$T/key1" "$T/key2"; ok $? "... two restored instances have different host keys"
else
	skip "sshd host keys" "no ssh-keyscan"
fi

# 6. Another image: cold; crumb rmi removes the snapshots of images gone.
echo "warm two" >"$T/ctx/www/index.html"
"$CRUMB" build -q --kernel "$KERNEL" -t warmbox "$T/ctx" >/dev/null 2>"$T/err"
"$CRUMB" run warmbox true 2>"$T/err"
grep -q "boot: qemu→init" "$T/err" && ! grep -q "warm start" "$T/err"; ok $? "the image rebuilt with other content: boots cold"
"$CRUMB" rmi warmsshd >/dev/null 2>&1
is "$(snaps index)" 0 "crumb rmi: the index entries of images gone are removed"
is "$(snaps blobs)" 0 "... and their snapshot blobs"

done_testing
