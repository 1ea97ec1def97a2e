#!/usr/bin/env bash
# The structure rules of lib/ and cmd/ that a compiler does not check: the
# layers of lib/LAYERS (no upward include), files of at most 400 lines,
# functions of at most 60. That one tool's code cannot include another's is the
# compiler's to check: each tool's sources see lib/ and their own folder only. Prints each breach;
# fails if there was one.
set -u
cd "$(dirname "$0")/.." || exit 111
failed=0
breach() { printf 'lint-structure: %s\n' "$*" >&2 && failed=1; }

declare -A rank
level=0
while read -r kind rest; do
	[ "$kind" = layer ] || continue
	level=$((level + 1))
	for module in ${rest#*:}; do
		[ -n "${rank[$module]:-}" ] && breach "lib/LAYERS names $module twice"
		rank[$module]=$level
	done
done < <(grep -v '^#' lib/LAYERS)

module_of() { local base=${1##*/} && echo "${base%.*}"; }

# check_includes FILE FROM_RANK: each module of lib/ it includes is of its own
# layer or below (a header that is no module of lib/ is a system header).
check_includes() {
	local header to_rank
	while read -r header; do
		to_rank=${rank[$header]:-}
		[ -z "$to_rank" ] || [ "$to_rank" -le "$2" ] ||
			breach "$1 includes $header.h (layer $to_rank), above its own"
	done < <(sed -n 's/^#include "\([a-z_]*\)\.h"$/\1/p' "$1")
}

for file in lib/*.h lib/*.cc; do
	module=$(module_of "$file")
	module=${module%_test}
	if [ -z "${rank[$module]:-}" ]; then
		breach "$file: module $module is not in lib/LAYERS"
		continue
	fi
	case "$file" in *_test.cc) continue ;; esac
	check_includes "$file" "${rank[$module]}"
done

too_long() {
	local file lines
	for file in lib/*.h lib/*.cc cmd/*/*.h cmd/*/*.cc toolchain/*.cc; do
		lines=$(wc -l <"$file")
		[ "$lines" -gt 400 ] && echo "$file has $lines lines; split it (at most 400)"
		# A definition, as clang-format lays it out: a signature at column 0
		# (or 2, a method in a class body), perhaps over several lines, whose
		# last line ends with "{"; its body ends with "}" at the same column.
		awk -v file="$file" '
			function column(text) { match(text, /^ */); return RLENGTH }
			!body && /^(  )?[A-Za-z~]/ && !/^ *(namespace|struct|class|enum|union|extern|public|private|protected|template|using|typedef|return|static_assert)([^A-Za-z_]|$)/ {
				head = NR; indent = column($0); name = $0
			}
			head && /;$/ { head = 0 }
			head && /[{][^{]*[}];?$/ { head = 0 }
			head && /[{]$/ {
				if ($0 ~ /= *[{]$/ || $0 ~ /^ *(namespace|struct|class|enum|union)([^A-Za-z_]|$)/) { head = 0; next }
				body = head; head = 0; close_line = sprintf("%*s}", indent, ""); next
			}
			body && index($0, close_line) == 1 && substr($0, length(close_line) + 1, 1) ~ /^([; ]|)$/ {
				if (NR - body - 1 > 60) printf "%s:%d: a %d-line function; split it (at most 60): %s\n", file, body, NR - body - 1, name
				body = 0
			}
		' "$file"
	done
}
while read -r line; do breach "$line"; done < <(too_long)

exit "$failed"
