#!/usr/bin/env bash
# Static checks that `make check` runs: clang-format, clang-tidy, the layers
# and sizes of lint-structure.sh, shellcheck and mandoc. Each failure is printed; the script fails if any check failed.
set -u
cd "$(dirname "$0")/.." || exit 111
failed=0
note() { printf 'lint: %s\n' "$*" >&2; }

mapfile -t cxx < <(git ls-files 'lib/*.h' 'lib/*.cc' 'cmd/*.h' 'cmd/*.cc' 'toolchain/*.cc' 'test/fakes/*.h' 'test/fakes/*.cc' 'test/xen/*.cc' 'test/fuzz/*.cc' 'test/bench/*.cc' 2>/dev/null ||
	find lib cmd toolchain test/fakes test/xen test/fuzz test/bench -name '*.h' -o -name '*.cc')
clang-format --dry-run --Werror "${cxx[@]}" || { note "clang-format: run clang-format -i on the files above"; failed=1; }

mapfile -t tidy < <(printf '%s\n' "${cxx[@]}" | grep '\.cc$' | grep -v '_test\.cc$')
clang-tidy --quiet "${tidy[@]}" -- -std=c++20 -iquote lib -iquote cmd/qrx -iquote test/fakes 2>/dev/null ||
	{ note "clang-tidy failed"; failed=1; }

bash test/lint-structure.sh || { note "lint-structure failed: lib/LAYERS says what may include what"; failed=1; }

mapfile -t scripts < <(git ls-files '.ci/run' '*.sh' '*.bash' '*.bats' 'init.d/*' 'image/init.d/*' \
	'image/*/etc/qubes-rpc/*' 'demo/dom0/usr/sbin/*' 'demo/dom0/usr/lib/qmin/*' 'test/fakes/xl' 2>/dev/null)
shellcheck -x "${scripts[@]}" || { note "shellcheck failed"; failed=1; }

pages=(man/*.[0-9])
for page in "${pages[@]}"; do
	mandoc -Tlint -Wwarning "$page" || { note "mandoc: $page"; failed=1; }
done

[ "$failed" -eq 0 ] && note "clean: ${#cxx[@]} C++ files, ${#scripts[@]} shell scripts, ${#pages[@]} man pages"
exit "$failed"
