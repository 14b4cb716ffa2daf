#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every source file names its licence, and the names agree with packaging/debian/copyright and
# LICENSES/ (README.md, "Licence"). Source files: C, C++, shell (by extension or shebang), CMake,
# systemd units and deploy/ manifests, over `git ls-files` (find outside a git checkout). Each has
# exactly one SPDX line, on line 1 (line 2 after a shebang or a `# shellcheck shell=` line), in
# its comment style: (LGPL-2.1 OR BSD-2-Clause) for what is compiled into BPF objects (bpf/,
# tests/bpf/progs/, tests/vm/*.bpf.c), Apache-2.0 for the rest. Generated files carry none; their
# licence is listed here. debian/copyright's last matching Files paragraph says the same licence
# for each file; LICENSE is LICENSES/Apache-2.0.txt; every licence named has its text in LICENSES/
# and every text there is named. Prints each offending file.
set -uo pipefail
src=${1:?usage: licence_headers.sh SOURCE_DIR}
cd "$src" || exit 1
failures=0
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Split so that this file has the tag once, in its own header.
tag='SPDX-License-''Identifier:'
apache='Apache-2.0'
dual='(LGPL-2.1 OR BSD-2-Clause)'
# Generated, with no SPDX line of their own: the licence they are under.
declare -A generated=([bpf/include/vmlinux.h]=GPL-2.0-only)
# debian/copyright's short names (License: fields) as SPDX expressions.
declare -A debian_to_spdx=([Apache-2.0]=$apache ['LGPL-2.1 or BSD-2-Clause']=$dual [GPL-2]=GPL-2.0-only)

bpf_path() {
	case $1 in
	bpf/*.c | bpf/*.h | tests/bpf/progs/*.c | tests/bpf/progs/*.h | tests/vm/*.bpf.c) return 0 ;;
	esac
	return 1
}

# c (// or /* */ comment), hash (# comment), or nothing for a file that is not source.
kind() {
	case $1 in
	*.cpp | *.h | *.c) echo c ;;
	*.sh | *.cmake | CMakeLists.txt | */CMakeLists.txt | *.service | deploy/*.yaml) echo hash ;;
	scripts/vm/guest-shrc) echo hash ;; # sourced by the guest's ash, so no shebang
	*) if head -c2 -- "$1" | cmp -s - <(printf '#!'); then echo hash; fi ;;
	esac
}

if [[ "$(git rev-parse --show-toplevel 2>/dev/null)" == "$(pwd -P)" ]]; then
	mapfile -d '' -t files < <(git ls-files -z)
else
	echo "not a git checkout: checking the files find sees"
	mapfile -d '' -t files < <(find . \( -name .git -o -path './build*' -o -path ./.cache \) -prune \
		-o -type f -printf '%P\0' | sort -z)
fi

# debian/copyright as "LICENSE<TAB>PATTERN" lines, in the file's order (the last match wins).
mapfile -t dep5 < <(awk '
	function flush(  n, i, a) {
		if (files != "") { n = split(files, a, /[ \t]+/); for (i = 1; i <= n; i++) if (a[i] != "") print lic "\t" a[i] }
		files = ""; lic = ""; field = ""
	}
	/^[ \t]*$/ { flush(); next }
	/^[^ \t]/ {
		field = $0; sub(/:.*/, "", field); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
		if (field == "Files") files = val; else if (field == "License") lic = val
		next
	}
	field == "Files" { files = files " " $0 }
	END { flush() }' packaging/debian/copyright)
((${#dep5[@]})) || bad "packaging/debian/copyright: no Files paragraphs"
dep5_licence() {
	local entry pat result=''
	for entry in "${dep5[@]}"; do
		pat=${entry#*$'\t'}
		# shellcheck disable=SC2053 # the pattern is a glob; in DEP-5 as here, * matches '/'
		[[ $1 == $pat ]] && result=${entry%%$'\t'*}
	done
	printf '%s' "$result"
}

declare -A used=()
checked=0
for f in "${files[@]}"; do
	[[ -f $f && ! -L $f ]] || continue
	k=$(kind "$f")
	[[ -n $k || -v generated[$f] ]] || continue
	checked=$((checked + 1))
	mapfile -t hits < <(grep -n -F -- "$tag" "$f")
	if [[ -v generated[$f] ]]; then
		want=${generated[$f]}
		((${#hits[@]} == 0)) || bad "$f: generated, but has an SPDX line: ${hits[0]}"
	else
		want=$apache
		bpf_path "$f" && want=$dual
		if ((${#hits[@]} == 0)); then
			bad "$f: no SPDX line (want $want)"
		elif ((${#hits[@]} > 1)); then
			bad "$f: ${#hits[@]} SPDX lines, at lines $(printf '%s\n' "${hits[@]}" | cut -d: -f1 | paste -sd,)"
		else
			at=${hits[0]%%:*} line=${hits[0]#*:}
			first=$(head -n1 -- "$f")
			expect_at=1
			[[ $first == '#!'* || $first == '# shellcheck shell='* ]] && expect_at=2
			((at == expect_at)) || bad "$f: the SPDX line is line $at, not $expect_at"
			if [[ $k == c ]]; then
				[[ $line == "// $tag $want" || $line == "/* $tag $want */" ]] ||
					bad "$f:$at: '$line', want '// $tag $want' or '/* $tag $want */'"
			else
				[[ $line == "# $tag $want" ]] || bad "$f:$at: '$line', want '# $tag $want'"
			fi
		fi
	fi
	used[$want]=1
	deb=$(dep5_licence "$f")
	[[ -n $deb && ${debian_to_spdx[$deb]-} == "$want" ]] ||
		bad "$f: packaging/debian/copyright says '${deb:-nothing}', the file is under $want"
done
((checked > 100)) || bad "only $checked source files found in $src"

cmp -s LICENSE LICENSES/Apache-2.0.txt || bad "LICENSE differs from LICENSES/Apache-2.0.txt"
declare -A ids=()
for expr in "${!used[@]}"; do
	read -ra parts <<<"$(sed -E 's/[()]/ /g; s/ (OR|AND|WITH) / /g' <<<"$expr")"
	for id in "${parts[@]}"; do ids[$id]=1; done
done
for id in "${!ids[@]}"; do
	[[ -f LICENSES/$id.txt ]] || bad "$id is used but LICENSES/$id.txt does not exist"
done
for text in LICENSES/*.txt; do
	id=${text#LICENSES/}
	id=${id%.txt}
	[[ -v ids[$id] ]] || bad "$text: no file is under $id"
done

if ((failures)); then
	echo "$failures failed"
	exit 1
fi
echo "licence checks passed: $checked source files; licences: $(printf '%s\n' "${!ids[@]}" | sort | paste -sd' ')"
