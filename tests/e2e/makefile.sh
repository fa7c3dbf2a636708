# tests/e2e/makefile.sh: the first `make demo` on a machine without the -dev packages: a clean copy
# of the tree built with a pkg-config that fails until "the packages are installed".
. "$(dirname "$0")/../tap.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
T=$TEST_TMP/makefile
rm -rf "$T"
mkdir -p "$T/src"

# The tree as a clean clone has it: tracked files plus untracked ones git does not ignore.
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$T/src" 2>/dev/null)
else
	(cd "$top" && tar -cf - --exclude=./build --exclude=./crumb --exclude=./crumb-init . | tar -xf - -C "$T/src")
fi
rm -rf "$T/src/build" "$T/src/crumb" "$T/src/crumb-init"
check "the copy has a Makefile and no build output" test -f "$T/src/Makefile" -a ! -e "$T/src/build"

# pkg-config as on a fresh machine: it answers only once deps have "installed" the packages.
real=$(command -v pkg-config)
cat >"$T/pkg-config" <<EOF
#!/bin/sh
[ -e "$T/installed" ] || { echo "Package libarchive was not found in the pkg-config search path." >&2; exit 1; }
exec "$real" "\$@"
EOF
chmod +x "$T/pkg-config"
M="make -C $T/src --no-print-directory PKG_CONFIG=$T/pkg-config CFLAGS=-O0"

$M crumb >"$T/out1" 2>&1
rc=$?
check "make before the packages are installed fails" test "$rc" -ne 0
check "... with the reason, before compiling anything" grep -q "^crumb: pkg-config .*cannot find the libraries" "$T/out1"
check "... not with a link error" sh -c "! grep -q 'undefined reference' '$T/out1'"
check "... and leaves no crumb binary" test ! -e "$T/src/crumb"

# make -j2 demo: deps first, then the build (which must see pkg-config's answer after the
# install), then the demo (here: the built binary answering --version).
$M -j2 DEPS_CMD="touch $T/installed" DEMO_CMD="./crumb --version" demo >"$T/out2" 2>&1
rc=$?
ok $rc "make -j2 demo installs, builds and runs on the first try"
[ $rc -eq 0 ] || tail -5 "$T/out2" | sed 's/^/# /'
check "... the demo ran the fresh binary" grep -q "^crumb " "$T/out2"
check "... crumb-init was built too" test -x "$T/src/crumb-init"
rm -rf "$T"
done_testing
