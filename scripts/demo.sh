#!/bin/sh
# scripts/demo.sh: the main job (`make demo`): build the crumb kernel once, then boot microVMs
# around host programs and show their output and boot times.
set -eu
cd "$(dirname "$0")/.."
CRUMB=./crumb
echo "== crumb kernel (built once, about 9 minutes on 2 cores; cached in the store)"
"$CRUMB" kernel build >/dev/null
"$CRUMB" kernel ls
echo
echo "== crumb run --exec /bin/echo -- hello from a microVM"
"$CRUMB" run --exec /bin/echo -- hello from a microVM
echo
echo "== crumb run --exec /usr/bin/python3 --add /usr/lib/python3.11 -- -c 'import platform; print(...)'"
"$CRUMB" run --exec /usr/bin/python3 --add /usr/lib/python3.11 -- \
	-c 'import os, platform; print("python", platform.python_version(), "on Linux", platform.release(), "as pid", os.getpid())'
echo
echo "== crumb run --exec /bin/sh -- -c '...; exit 7'   (the exit status comes back)"
set +e
"$CRUMB" run -q --exec /bin/sh -- -c 'read v < /proc/version; echo "${v%% (*}"; exit 7'
echo "exit status: $?"
