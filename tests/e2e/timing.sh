# tests/e2e/timing.sh: one boot with --timing --timeline: the table has every phase, the SVG parses.
. "$(dirname "$0")/../tap.sh"
T=$TEST_TMP/timing
mkdir -p "$T"

out=$("$CRUMB" run --kernel "$KERNEL" --timing --timeline "$T/boot.svg" --exec /bin/echo -- hi 2>"$T/err")
is $? 0 "--timing --timeline: echo exits 0"
is "$out" "hi" "... its output is only the program's (the kernel's log is captured, not shown)"
diag "$(cat "$T/err")"
grep -q "^crumb: boot timeline (\(tcg\|kvm\))" "$T/err"; ok $? "a timeline table on stderr"
for phase in "qemu start → kernel entry" "kernel → init" "init → exec" "service (exec → exit)" \
	"shutdown (exit → qemu gone)" "total"; do
	grep -Eq "^  $(echo "$phase" | sed 's/[()]/\\&/g') +[0-9.]* +[0-9.]+ +[0-9.]+$" "$T/err"
	ok $? "... with a row for $phase"
done
grep -q "^  kernel log: [0-9]* lines; largest gaps" "$T/err"; ok $? "... and the kernel's largest gaps"
[ "$(grep -c '^  *[0-9.]* ms  *[0-9.]* → *[0-9.]* s  from "' "$T/err")" -eq 5 ]; ok $? "... five of them"
! grep -q "boot: qemu→init" "$T/err"; ok $? "... instead of the one-line boot time"
awk '/^  (qemu start|kernel →|init →|service|shutdown)/ { s += $(NF-1) } /^  total/ { t = $(NF-1) }
	END { exit !(t > 0 && s > t * 0.98 && s < t * 1.02) }' "$T/err"
ok $? "... the phases add up to the total"

python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert r.tag == ns + "svg", r.tag
texts = "".join(t.text or "" for t in r.iter(ns + "text"))
for want in ("kernel → init", "init → exec", "largest gaps"):
    assert want in texts, want
assert len(list(r.iter(ns + "rect"))) >= 6' "$T/boot.svg" 2>"$T/py"
ok $? "the SVG parses as XML (python3 xml.etree) and has the bars and labels"
diag "$(cat "$T/py")"
! grep -Eq 'href|<script|@import|url\(' "$T/boot.svg"; ok $? "... and refers to nothing outside itself"

"$CRUMB" run --kernel "$KERNEL" --timeline "$T/nope/x.svg" --exec /bin/true 2>"$T/err"
is $? 0 "an unwritable --timeline file does not change the run's status"
grep -q "^crumb: --timeline: .*nope" "$T/err"; ok $? "... but is reported"

done_testing
