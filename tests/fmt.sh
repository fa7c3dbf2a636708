#!/bin/sh
# tests/fmt.sh: TAP: every C file under src/, tests/unit and fuzz/ is as clang-format (the
# .clang-format at the top, Debian 12's clang-format 14) writes it; `make fmt` fixes them.
cd "$(dirname "$0")/.." || exit 1
files=$(ls src/*.c src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c)
n=$(echo "$files" | wc -l)
echo "1..$n"
cf=${CLANG_FORMAT:-clang-format}
ver=$("$cf" --version 2>/dev/null | sed -n 's/.*clang-format version \([0-9]*\).*/\1/p')
i=0
for f in $files; do
	i=$((i + 1))
	if [ "$ver" != 14 ]; then
		echo "ok $i - $f # SKIP clang-format 14 not found (${ver:-none}; sh scripts/deps.sh installs it)"
	elif "$cf" --dry-run --Werror "$f" 2>/dev/null; then
		echo "ok $i - $f is formatted"
	else
		echo "not ok $i - $f is not formatted: run 'make fmt'"
		"$cf" "$f" | diff -u "$f" - | sed 's/^/# /' | head -20
	fi
done
