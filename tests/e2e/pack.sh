# tests/e2e/pack.sh: the initramfs writer: contents checked with cpio(1), byte-identical rebuilds.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/pack
mkdir -p "$T"

# Times: the files' own, clamped to SOURCE_DATE_EPOCH when set (tests/e2e/sde.sh).
export SOURCE_DATE_EPOCH=0
"$CRUMB" pack --exec /bin/echo -o "$T/a.cpio.gz" -- hello; ok $? "pack /bin/echo (gzip)"
(umask 077; "$CRUMB" pack --exec /bin/echo -o "$T/b.cpio.gz" -- hello)
cmp -s "$T/a.cpio.gz" "$T/b.cpio.gz"; ok $? "a second build, other umask, is byte-identical (gzip)"
"$CRUMB" pack --exec /bin/echo --compress none -o "$T/a.cpio" -- hello
sleep 1; touch "$T/a.cpio.stamp"
"$CRUMB" pack --exec /bin/echo --compress none -o "$T/b.cpio" -- hello
cmp -s "$T/a.cpio" "$T/b.cpio"; ok $? "a second build is byte-identical (uncompressed)"
gzip -dc "$T/a.cpio.gz" | cmp -s - "$T/a.cpio"; ok $? "the gzip archive holds the same cpio"
SOURCE_DATE_EPOCH=1700000000 "$CRUMB" pack --exec /bin/echo --compress none -o "$T/c.cpio" -- hello
cmp -s "$T/a.cpio" "$T/c.cpio"; is $? 1 "SOURCE_DATE_EPOCH changes the bytes"

list=$(cpio -it <"$T/a.cpio" 2>/dev/null)
ok $? "cpio(1) reads the archive"
for p in sbin/crumb-init dev/console etc/crumb/init.conf usr/bin/echo bin lib64; do
	echo "$list" | grep -qx "$p"; ok $? "archive holds $p"
done
libc=$(ldd /bin/echo | sed -n 's/.*=> \(\/[^ ]*libc\.so\.6\).*/\1/p')
real=$(readlink -f "$libc")
echo "$list" | grep -qx "${real#/}"; ok $? "archive holds libc where the host's path leads ($libc -> $real)"
echo "$list" | sort -c 2>/dev/null; ok $? "entries are in sorted order"
tv=$(cpio -itv --numeric-uid-gid <"$T/a.cpio" 2>/dev/null)
echo "$tv" | awk '$3 != 0 || $4 != 0 { bad = 1 } END { exit bad }'; ok $? "every entry is owned by 0:0"
echo "$tv" | grep -q '^crw------- .* 5, *1 .* dev/console$'; ok $? "dev/console is char 5,1"
echo "$tv" | grep -q '^lrwxrwxrwx .* bin -> usr/bin$'; ok $? "/bin -> usr/bin kept as a symlink"
is "$(echo "$tv" | grep -vc ' Jan  1  1970 ')" 0 "every timestamp is SOURCE_DATE_EPOCH=0 (all newer: clamped)"
mkdir -p "$T/x" && (cd "$T/x" && cpio -id --quiet <"$T/a.cpio" 2>/dev/null)
cmp -s "$T/x/usr/bin/echo" /usr/bin/echo; ok $? "usr/bin/echo content equals the host's"
grep -q '^arg hello$' "$T/x/etc/crumb/init.conf"; ok $? "init.conf carries the argument"

"$CRUMB" pack --exec /bin/echo --add /etc/hostname:/data/hn --add "$T/x/etc" -o "$T/d.cpio" --compress none
cpio -it <"$T/d.cpio" 2>/dev/null | grep -qx 'data/hn'; ok $? "--add HOST:GUEST lands at GUEST"
cpio -it <"$T/d.cpio" 2>/dev/null | grep -qx "${T#/}/x/etc/crumb/init.conf"; ok $? "--add DIR lands at its host path"
"$CRUMB" pack --exec /bin/echo --add /no/such -o "$T/e.cpio" 2>"$T/err"; is $? 1 "--add of a missing path fails"
check "... one-line error" one_line_error "$T/err"
[ ! -e "$T/e.cpio" ]; ok $? "... and writes no archive"
if [ "$(id -u)" -ne 0 ]; then
	echo secret >"$T/unreadable"; chmod 000 "$T/unreadable"
	"$CRUMB" pack --exec /bin/echo --add "$T/unreadable" -o "$T/f.cpio" 2>"$T/err"
	is $? 1 "an unreadable --add file fails"
	grep -q unreadable "$T/err"; ok $? "... naming it"
else
	skip "an unreadable --add file fails" "running as root"
	skip "... naming it" "running as root"
fi
mkfifo "$T/fifo"
timeout 10 "$CRUMB" pack --exec /bin/echo --add "$T/fifo:/fifo" -o "$T/g.cpio" --compress none
ok $? "a FIFO is added without being opened"
cpio -itv <"$T/g.cpio" 2>/dev/null | grep -q '^p.* fifo$'; ok $? "... and is a FIFO in the archive"
done_testing
