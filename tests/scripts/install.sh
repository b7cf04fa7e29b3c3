#!/usr/bin/env bash
# `make install` as a C developer uses it: into a staging tree (DESTDIR) under
# a prefix (PREFIX), then
#  - the layout: bin/crest, lib/libcrest.so.X.Y.Z with its SONAME libcrest.so.X
#    and the two links, lib/libcrest.a, include/crest.h, lib/pkgconfig/crest.pc,
#    lib/cmake/crest/crestConfig{,Version}.cmake, share/man/man1/crest.1;
#  - libcrest.so exports crest_* and nothing else (nm -D);
#  - a program built with `cc x.c $(pkg-config --cflags --libs crest)` and one
#    built by CMake (find_package(crest), crest::crest) run against it;
#  - crest(1) renders with man -l (groff warnings fail) and says what
#    `crest train --help` says, option by option.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${CREST_BUILD:-build}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

PREFIX=/opt/crest-test
STAGE="$tmp/stage"
P="$STAGE$PREFIX"
make -C "$ROOT" -s BUILD="$BUILD" DESTDIR="$STAGE" PREFIX="$PREFIX" install > "$tmp/make.log" 2>&1 \
  || { cat "$tmp/make.log"; bad "make install"; exit 1; }
VERSION="$("$ROOT/$BUILD/crest" --version | sed -n 's/^crest //p')"
MAJOR="${VERSION%%.*}"
echo "installed crest $VERSION under DESTDIR=$STAGE PREFIX=$PREFIX"

for f in bin/crest "lib/libcrest.so.$VERSION" lib/libcrest.a include/crest.h \
         lib/pkgconfig/crest.pc lib/cmake/crest/crestConfig.cmake \
         lib/cmake/crest/crestConfigVersion.cmake share/man/man1/crest.1; do
  [ -f "$P/$f" ] || bad "$f not installed"
done
[ "$(readlink "$P/lib/libcrest.so.$MAJOR")" = "libcrest.so.$VERSION" ] || bad "libcrest.so.$MAJOR link"
[ "$(readlink "$P/lib/libcrest.so")" = "libcrest.so.$MAJOR" ] || bad "libcrest.so link"
soname="$(readelf -d "$P/lib/libcrest.so.$VERSION" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')"
[ "$soname" = "libcrest.so.$MAJOR" ] && echo "SONAME $soname" || bad "SONAME '$soname'"

# exported symbols: crest_* only, and the API is there
nm -D --defined-only "$P/lib/libcrest.so.$VERSION" | awk '{print $3}' > "$tmp/syms"
others="$(grep -v '^crest_' "$tmp/syms" | head -5)"
[ -z "$others" ] || bad "libcrest.so exports non-crest_ symbols: $others"
for s in crest_fit crest_model_load crest_last_error; do
  grep -qx "$s" "$tmp/syms" || bad "libcrest.so does not export $s"
done
echo "exported: $(wc -l < "$tmp/syms") symbols, all crest_*"

# sanitized builds: the programs link the sanitizer runtime too
SANFLAGS=""
[ -n "${CREST_SANITIZED:-}" ] && SANFLAGS="-fsanitize=address,undefined"
export LD_LIBRARY_PATH="$P/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# pkg-config (the .pc file is relocatable: found from where it lies)
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
[ "$(pkg-config --modversion crest)" = "$VERSION" ] || bad "pkg-config --modversion crest"
# shellcheck disable=SC2046
if cc $SANFLAGS -o "$tmp/x_pc" "$ROOT/tests/install/x.c" $(pkg-config --cflags --libs crest) \
     2> "$tmp/cc.log"; then
  # grep reads all (no -q): with pipefail, a writer cut off by SIGPIPE would fail the check
  readelf -d "$tmp/x_pc" | grep "NEEDED.*\[libcrest.so.$MAJOR\]" > /dev/null || bad "x_pc does not need libcrest.so.$MAJOR"
  ldd "$tmp/x_pc" | grep "$P/lib/libcrest.so.$MAJOR" > /dev/null || bad "x_pc does not load the installed libcrest"
  out="$("$tmp/x_pc")" && echo "pkg-config program: $out" || bad "pkg-config program: $out"
else
  cat "$tmp/cc.log"; bad "cc x.c \$(pkg-config --cflags --libs crest)"
fi

# CMake: find_package(crest VERSION) and crest::crest
if cmake -S "$ROOT/tests/install" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$P" -DCREST_WANT="$VERSION" \
     -DCMAKE_C_FLAGS="$SANFLAGS" -DCMAKE_BUILD_TYPE=Release > "$tmp/cmake.log" 2>&1 &&
   cmake --build "$tmp/cm" >> "$tmp/cmake.log" 2>&1; then
  out="$("$tmp/cm/x")" && echo "CMake program: $out" || bad "CMake program: $out"
else
  tail -20 "$tmp/cmake.log"; bad "cmake find_package(crest)"
fi
# a version it does not satisfy is refused
cmake -S "$ROOT/tests/install" -B "$tmp/cm2" -DCMAKE_PREFIX_PATH="$P" \
  -DCREST_WANT="$((MAJOR + 1)).0" > "$tmp/cmake2.log" 2>&1 && bad "find_package(crest $((MAJOR + 1)).0) succeeded"

# the manual page: renders without warnings, and carries --help's text
w="$(groff -man -ww -z "$P/share/man/man1/crest.1" 2>&1)"
[ -z "$w" ] || bad "groff warnings: $w"
# (man justifies lines with runs of spaces: fold them before matching words)
MANWIDTH=200 man -l "$P/share/man/man1/crest.1" 2> "$tmp/man.err" > "$tmp/man.raw" || bad "man -l"
tr -s ' ' < "$tmp/man.raw" > "$tmp/man.txt"
grep -q "^CREST(1)" "$tmp/man.txt" || bad "man -l: no CREST(1) header"
"$ROOT/$BUILD/crest" train --help > "$tmp/help.txt"
n=0
while read -r opt; do   # every option of train --help is in the page, with its help's first words
  words="$(grep -m1 -- "^  $opt\b" "$tmp/help.txt" | sed 's/^  [^ ]*\( [^ ]*\)\? *//' | cut -c1-25)"
  grep -q -- "$opt" "$tmp/man.txt" || bad "man page lacks $opt"
  [ -z "$words" ] || grep -qF -- "$words" "$tmp/man.txt" || bad "man page lacks '$words' ($opt)"
  n=$((n + 1))
done < <(grep -o '^  --[a-z-]*' "$tmp/help.txt" | tr -d ' ')
for c in train evaluate predict summary infer bench export; do
  grep -q "^ *crest $c " "$tmp/man.txt" || bad "man page lacks crest $c"
done
echo "man page: $n train options checked against --help"

[ "$fail" -eq 0 ] && echo "install: ok"
exit "$fail"
