#!/bin/sh
# scripts/funclen.sh [N]: the N (default 10) longest C functions under src/, in lines from
# the line that names them to their closing brace (Universal Ctags), longest first.
cd "$(dirname "$0")/.." || exit 1
ctags -x --c-kinds=f --_xformat='%N %F %n %e' src/*.c src/*/*.c |
	awk '{print $4 - $3 + 1, $2 ":" $3, $1}' | sort -rn | head -n "${1:-10}"
