#!/usr/bin/env bash
# The structure rules of lib/ and cmd/ that a compiler does not check: the
# layers of lib/LAYERS (no upward include, no include of another tool's engine),
# files of at most 400 lines, functions of at most 60. Prints each breach;
# fails if there was one.
set -u
cd "$(dirname "$0")/.." || exit 111
failed=0
breach() { printf 'lint-structure: %s\n' "$*" >&2 && failed=1; }

declare -A rank engine_of tool_engine
level=0
while read -r kind rest; do
	case "$kind" in
	layer) name=${rest%%:*} && level=$((level + 1)) ;;
	engine) name=${rest%% *} && level=100 ;;
	*) continue ;;
	esac
	if [ "$kind" = engine ]; then
		tools=${rest#*(} && tools=${tools%%)*}
		for tool in $tools; do tool_engine[$tool]=$name; done
	fi
	for module in ${rest#*:}; do
		[ -n "${rank[$module]:-}" ] && breach "lib/LAYERS names $module twice"
		rank[$module]=$level
		[ "$kind" = engine ] && engine_of[$module]=$name
	done
done < <(grep -v '^#' lib/LAYERS)

module_of() { local base=${1##*/} && echo "${base%.*}"; }

# may_include FROM_RANK FROM_ENGINE MODULE: whether the rules allow it.
may_include() {
	local to_rank=${rank[$3]:-} to_engine=${engine_of[$3]:-}
	[ -z "$to_rank" ] && return 0 # not a module of lib/ (a system header)
	[ -n "$to_engine" ] && { [ "$to_engine" = "$2" ]; return; }
	[ "$to_rank" -le "$1" ]
}

check_includes() { # FILE FROM_RANK FROM_ENGINE
	local header
	while read -r header; do
		may_include "$2" "$3" "$header" ||
			breach "$1 includes $header.h (${engine_of[$header]:-layer ${rank[$header]}}), above or beside its own"
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
	check_includes "$file" "${rank[$module]}" "${engine_of[$module]:-}"
done

for main in cmd/*/main.cc; do
	tool=$(basename "$(dirname "$main")")
	[ -z "${tool_engine[$tool]:-}" ] && breach "$main: lib/LAYERS names no engine for $tool"
	check_includes "$main" 99 "${tool_engine[$tool]:-}"
done

too_long() {
	local file lines
	for file in lib/*.h lib/*.cc cmd/*/*.cc; do
		lines=$(wc -l <"$file")
		[ "$lines" -gt 400 ] && echo "$file has $lines lines; split it (at most 400)"
		# A definition opens at column 0 with "{" closing its line and ends at
		# column 0 with "}", as clang-format lays it out.
		awk -v file="$file" '
			/^[A-Za-z].*[{]$/ && !/^(namespace|struct|class|enum|union|extern)/ && !/= *[{]$/ { start = NR; name = $0; next }
			/^}/ && start { if (NR - start - 1 > 60) printf "%s:%d: a %d-line function; split it (at most 60): %s\n", file, start, NR - start - 1, name; start = 0 }
		' "$file"
	done
}
while read -r line; do breach "$line"; done < <(too_long)

exit "$failed"
