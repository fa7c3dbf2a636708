# tests/e2e/trust.sh: the build's trust boundary and input limits: a Crumbfile reads only its
# context, host files need to be public system files or --allow-host, an image publishes on
# 127.0.0.1 only, expansion is bounded. Every refusal comes before any builder boot.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/trust
mkdir -p "$T"
build() { "$CRUMB" build --kernel "$KERNEL" "$@"; }
# refused DESC PATTERN [ARGS...] CTX: the build fails with one line matching PATTERN, crumb images unchanged.
refused() {
	d=$1 pat=$2
	shift 2
	"$CRUMB" images >"$T/images.before" 2>&1
	build -q "$@" >"$T/out" 2>"$T/err"
	r=$?
	"$CRUMB" images >"$T/images.after" 2>&1
	if [ "$r" -ne 0 ] && one_line_error "$T/err" && grep -q -- "$pat" "$T/err" &&
		cmp -s "$T/images.before" "$T/images.after"; then
		ok 0 "$d"
	else
		ok 1 "$d"
		diag "exit $r: $(cat "$T/err")"
	fi
}
accepted() {
	d=$1
	shift
	build -q "$@" >"$T/out" 2>"$T/err"
	r=$?
	ok $r "$d"
	[ "$r" -eq 0 ] || diag "$(cat "$T/err")"
}
# since START: the seconds since START (date +%s.%N)
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }

C=$T/ctx
O=$T/outside
mkdir -p "$C" "$O"
mkdir -p "$O/root/etc"
echo "from a tarball" >"$O/root/etc/issue"
tar -C "$O/root" --owner=0 --group=0 --mtime=@0 -cf "$O/base.tar" .
cp "$O/base.tar" "$C/base.tar"

# 1. FROM PATH: relative, inside the context.
printf 'FROM ./base.tar\n' >"$C/Crumbfile"
accepted "FROM ./base.tar (inside the context) builds" "$C"
printf 'FROM %s\n' "$O/base.tar" >"$C/Crumbfile"
refused "FROM /abs/file is refused" 'Crumbfile:1:1: .*absolute path reads outside the build context' "$C"
ln -s "$O/base.tar" "$C/link.tar"
printf 'FROM ./link.tar\n' >"$C/Crumbfile"
refused "FROM a symlink leaving the context is refused" 'Crumbfile:1:1: .*link.tar: outside the build context' "$C"
printf 'FROM ../outside/base.tar\n' >"$C/Crumbfile"
refused "FROM ../ is refused" 'Crumbfile:1:1: .*outside the build context' "$C"
mkdir -p "$C/layout/blobs/sha256"
ln -s /etc/passwd "$C/layout/blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000"
printf 'FROM ./layout\n' >"$C/Crumbfile"
refused "FROM an OCI layout whose blob is a symlink out of the context is refused" \
	'Crumbfile:1:1: .*a symlink out of the build context' "$C"

# 2. INCLUDE: relative, inside the context.
printf 'FROM scratch\nINCLUDE /etc/passwd\n' >"$C/Crumbfile"
refused "INCLUDE /etc/passwd is refused" 'Crumbfile:2:9: INCLUDE /etc/passwd: an absolute path' "$C"
printf 'LABEL a=b\n' >"$O/inc.Crumbfile"
ln -s "$O/inc.Crumbfile" "$C/inc-link"
printf 'FROM scratch\nINCLUDE inc-link\n' >"$C/Crumbfile"
refused "INCLUDE of a symlink leaving the context is refused" 'Crumbfile:2:9: INCLUDE inc-link: resolves outside' "$C"
cp "$O/inc.Crumbfile" "$C/inc.Crumbfile"
printf 'FROM scratch\nINCLUDE inc.Crumbfile\n' >"$C/Crumbfile"
accepted "INCLUDE of a file in the context works" "$C"
printf 'FROM scratch\nINCLUDE inc.Crumbfile\n' >"$O/Crumbfile"
accepted "a Crumbfile given with -f outside the context INCLUDEs from its own directory" -f "$O/Crumbfile" "$C"
printf 'FROM scratch\nINCLUDE ../outside/inc.Crumbfile\n' >"$C/Crumbfile"
refused "... while one in the context cannot INCLUDE from outside it" 'Crumbfile:2:9: INCLUDE ../outside/inc.Crumbfile: resolves outside' "$C"

# 3. LABEL crumb.kernel=PATH: inside the context; a stored kernel ID stays allowed.
printf 'FROM scratch\nLABEL crumb.kernel=%s\n' "$KERNEL" >"$C/Crumbfile"
refused "LABEL crumb.kernel=/abs is refused" 'Crumbfile:2:1: LABEL crumb.kernel=/.*absolute path' "$C"
ln -s "$KERNEL" "$C/vmlinux-link"
printf 'FROM scratch\nLABEL crumb.kernel=./vmlinux-link\n' >"$C/Crumbfile"
refused "LABEL crumb.kernel through a symlink out of the context is refused" 'Crumbfile:2:1: .*outside the build context' "$C"
cp "$KERNEL" "$C/vmlinux"
printf 'FROM scratch\nLABEL crumb.kernel=./vmlinux\n' >"$C/Crumbfile"
accepted "LABEL crumb.kernel=./vmlinux (inside the context) builds" "$C"
rm -f "$C/vmlinux"

# 4. COPY --from=host: public system files, else --allow-host.
printf 'secret\n' >"$O/key"
chmod 600 "$O/key"
printf 'FROM scratch\nCOPY --from=host %s /key\n' "$O/key" >"$C/Crumbfile"
refused "COPY --from=host of a 0600 file outside the system directories is refused" \
	"Crumbfile:2:1: COPY --from=host $O/key: .*--allow-host" "$C"
accepted "... and accepted with --allow-host FILE" --allow-host "$O/key" -t withkey "$C"
printf 'public\n' >"$O/pub"
chmod 644 "$O/pub"
printf 'FROM scratch\nCOPY --from=host %s /pub\n' "$O/pub" >"$C/Crumbfile"
refused "COPY --from=host of a world-readable file outside the system directories is refused" \
	'outside the system directories' "$C"
accepted "... and accepted with --allow-host naming a directory above it" --allow-host "$O" "$C"
refused "--allow-host of a missing path is refused" 'allow-host .*nonexistent: No such file' --allow-host "$O/nonexistent" "$C"
if [ -e /etc/shadow ] && [ "$(stat -c %a /etc/shadow | cut -c3)" != 4 ]; then
	printf 'FROM scratch\nCOPY --from=host /etc/shadow /x\n' >"$C/Crumbfile"
	refused "COPY --from=host /etc/shadow (a system file not world-readable) is refused" \
		'/etc/shadow is not readable by every user' "$C"
	ln -sf /etc/shadow "$O/shadow-link"
	printf 'FROM scratch\nCOPY --from=host %s /x\n' "$O/shadow-link" >"$C/Crumbfile"
	refused "... also through a symlink (the resolved path is judged)" '/etc/shadow is not readable' "$C"
	printf 'FROM scratch\nCOPY --from=host /etc /etc\n' >"$C/Crumbfile"
	refused "COPY --from=host of a directory holding a private file is refused" 'not readable by every user' "$C"
else
	skip "COPY --from=host /etc/shadow" "no private /etc/shadow here"
	skip "... through a symlink" "no private /etc/shadow here"
	skip "COPY --from=host /etc" "no private /etc/shadow here"
fi
ln -sf /usr/share/common-licenses/GPL-3 "$O/gpl-link"
printf 'FROM scratch\nCOPY --from=host %s /GPL-3\n' "$O/gpl-link" >"$C/Crumbfile"
accepted "a symlink outside the system directories to a public system file is accepted" "$C"
mkdir -p "$O/bin"
cp /bin/true "$O/bin/true"
printf 'FROM scratch\nCOPY --from=host --deps %s /bin/true\n' "$O/bin/true" >"$C/Crumbfile"
refused "COPY --from=host --deps of a program outside the system directories is refused" 'allow-host' "$C"
accepted "... and accepted with --allow-host (its libraries come from the system directories)" \
	--allow-host "$O/bin" "$C"

# 5. crumb.publish: 127.0.0.1 only.
printf 'FROM scratch\nLABEL crumb.publish=0.0.0.0:8080:80\n' >"$C/Crumbfile"
refused "LABEL crumb.publish=0.0.0.0:8080:80 is refused" 'Crumbfile:2:1: LABEL crumb.publish: 0.0.0.0:8080:80: an image publishes on 127.0.0.1 only' "$C"
printf 'FROM scratch\nLABEL crumb.publish="8080:80 127.0.0.1:8443:443"\n' >"$C/Crumbfile"
accepted "LABEL crumb.publish with no address or 127.0.0.1 builds" "$C"
"$CRUMB" mkfs -t ext4 "$O/root" "$T/rootfs.ext4" >/dev/null 2>&1 || diag "mkfs failed"
"$CRUMB" import -t elsewhere --kernel "$KERNEL" --rootfs "$T/rootfs.ext4" --cmd /bin/true \
	-l crumb.publish=0.0.0.0:8080:80 >/dev/null 2>"$T/err"
if [ $? -ne 0 ]; then
	# import judges labels itself: make the image's config by hand instead
	printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/true"],"Labels":{"crumb.publish":"0.0.0.0:8080:80"}},"rootfs":{"type":"layers","diff_ids":[]}}' >"$T/cfg.json"
	"$CRUMB" import -t elsewhere --kernel "$KERNEL" --rootfs "$T/rootfs.ext4" --config-json "$T/cfg.json" >/dev/null 2>"$T/err"
fi
ok $? "an image built elsewhere with crumb.publish=0.0.0.0:8080:80 is imported"
"$CRUMB" run elsewhere >"$T/out" 2>"$T/err"
r=$?
[ "$r" -ne 0 ] && one_line_error "$T/err" && grep -q '127.0.0.1 only' "$T/err"
ok $? "crumb run refuses it (exit $r)"
diag "$(cat "$T/err")"
printf 'FROM elsewhere\n' >"$C/Crumbfile"
refused "... and a build FROM it is refused" 'crumb.publish=0.0.0.0:8080:80 (from the base image)' "$C"

# 6. Expansion limits: an error naming FILE:LINE:COL, in under a second.
for kw in ARG ENV; do
	{ echo 'FROM scratch'; echo "$kw A=x"; i=0; while [ $i -lt 40 ]; do echo "$kw A=\$A\$A"; i=$((i + 1)); done; } >"$C/Crumbfile"
	t0=$(date +%s.%N)
	build -q "$C" >/dev/null 2>"$T/err"
	t=$(since "$t0")
	one_line_error "$T/err" && grep -q 'Crumbfile:23:5: failed to process "$A$A": variable expansion makes a word longer than 1 MiB' "$T/err"
	ok $? "40 lines of $kw A=\$A\$A: one-line error at FILE:LINE:COL"
	diag "$(cat "$T/err")"
	awk -v t="$t" 'BEGIN { exit !(t < 1) }'; ok $? "... in under a second (${t}s)"
done
{ echo 'FROM scratch'; echo 'ARG A=0123456789abcdef'; i=0; while [ $i -lt 16 ]; do echo 'ARG A=$A$A'; i=$((i + 1)); done
	i=0; while [ $i -lt 8 ]; do echo "ENV V$i=\$A"; i=$((i + 1)); done; } >"$C/Crumbfile"
refused "ENV values adding up past 4 MiB are refused" 'Crumbfile:21:1: ENV: the stage.s ARG and ENV variables exceed 4096 or 4 MiB in all' "$C"

# 7. STOPSIGNAL, USER, UTF-8: said at their own line.
printf 'FROM scratch\nSTOPSIGNAL SIGBOGUS\n' >"$C/Crumbfile"
refused "STOPSIGNAL SIGBOGUS is refused" 'Crumbfile:2:1: STOPSIGNAL SIGBOGUS: not a signal' "$C"
printf 'FROM scratch\nSTOPSIGNAL SIGRTMIN+3\nSTOPSIGNAL 9\nSTOPSIGNAL term\n' >"$C/Crumbfile"
accepted "STOPSIGNAL SIGRTMIN+3, 9 and term are accepted (Docker's names and numbers)" "$C"
printf 'FROM ./base.tar\nUSER ${U}\nRUN true\n' >"$C/Crumbfile"
refused "USER \${U} with U unset is refused at the USER line" 'Crumbfile:2:1: USER ${U}: the user is empty' "$C"
printf 'FROM ./base.tar\nUSER :grp\nRUN true\n' >"$C/Crumbfile"
refused "USER :grp is refused at the USER line" "Crumbfile:2:1: USER :grp: ':grp' is not USER\[:GROUP\]" "$C"
cp "$O/base.tar" "$C/base.tar"
printf 'FROM ./base.tar\nRUN true\nLABEL x="caf\351"\n' >"$C/Crumbfile"
refused "invalid UTF-8 in LABEL is refused at parse time, before the RUN" 'Crumbfile:3:13: LABEL: invalid UTF-8 (byte 0xe9)' "$C"
printf 'FROM scratch\nARG V\nENV X=$V\n' >"$C/Crumbfile"
refused "invalid UTF-8 brought into ENV by --build-arg is refused at the ENV line" \
	'Crumbfile:3:5: ENV "X": the value is not valid UTF-8' --build-arg "V=$(printf 'caf\351')" "$C"

done_testing
