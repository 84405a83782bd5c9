#!/usr/bin/env bash
# PackageDeb: builds laneway_<version>_amd64.deb with CPack in the build tree (it
# takes well under a minute once the binaries are built) and checks what is in it:
# metadata (dpkg-deb --info), the file layout (dpkg-deb --contents, then dpkg -x
# into a scratch root), the conffile, the maintainer scripts, the man pages, and
# that the packaged binaries run. lintian, `systemd-analyze verify` and
# `systemd-analyze security` run where installed and their findings are printed.
#
# usage: check_deb.sh BUILD_DIR SOURCE_DIR VERSION
set -euo pipefail
build=$1 src=$2 version=$3
fail() { echo "FAIL: $*" >&2; exit 1; }

start=$(date +%s.%N)
(cd "$build" && cpack --config CPackConfig.cmake -G DEB >cpack.log 2>&1) || { cat "$build/cpack.log"; fail "cpack failed"; }
end=$(date +%s.%N)
deb="$build/deb/laneway_${version}_amd64.deb"
[ -f "$deb" ] || fail "no $deb"
awk -v a="$start" -v b="$end" -v d="$deb" -v n="$(stat -c %s "$deb")" \
  'BEGIN { printf "built %s (%d bytes) in %.1f s\n", d, n, b - a }'

info=$(dpkg-deb --info "$deb")
echo "$info"
grep -q '^ Package: laneway$' <<<"$info" || fail "package name"
grep -q "^ Version: ${version}\$" <<<"$info" || fail "version"
grep -q '^ Architecture: amd64$' <<<"$info" || fail "architecture"
grep -Eq '^ Depends: .*libzmq5' <<<"$info" || fail "Depends lacks libzmq5 (shlibdeps)"
grep -Eq '^ Depends: .*libsystemd0' <<<"$info" || fail "Depends lacks libsystemd0"
# laneway-worker dlopens libcurl.so.4 (worker/runners/curl_api.cc), which shlibdeps
# cannot see; the supervisor links it, so libcurl4 must still be there.
grep -Eq '^ Depends: .*libcurl4' <<<"$info" || fail "Depends lacks libcurl4 (the worker dlopens it)"
grep -Eq '^ Depends: .*adduser' <<<"$info" || fail "Depends lacks adduser"
for s in postinst prerm postrm conffiles; do
  grep -Eq "^ +[0-9]+ bytes, +[0-9]+ lines +\*? *${s}" <<<"$info" || fail "control file $s missing"
done

contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/laneway ./usr/bin/laneway-supervisor ./usr/bin/laneway-worker \
         ./lib/systemd/system/laneway.service ./etc/laneway/laneway.toml \
         ./usr/share/man/man1/laneway.1.gz ./usr/share/man/man1/laneway-supervisor.1.gz \
         ./usr/share/man/man1/laneway-worker.1.gz \
         ./usr/share/bash-completion/completions/laneway ./usr/share/doc/laneway/copyright \
         ./usr/share/doc/laneway/operations.md; do
  grep -q " ${f}\$" <<<"$contents" || fail "missing $f"
done
grep -q ' ./usr/share/laneway/' <<<"$contents" && fail "the example copies do not belong in the .deb"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
ctl="$root/DEBIAN"
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$ctl"
echo "--- layout (dpkg -x):"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sort)
[ "$(cat "$ctl/conffiles")" = "/etc/laneway/laneway.toml" ] || fail "conffiles"
grep -q 'adduser --system' "$ctl/postinst" || fail "postinst does not create the user"
grep -q 'useradd --system' "$ctl/postinst" || fail "postinst has no useradd fallback"
sh -n "$ctl/postinst" && sh -n "$ctl/prerm" && sh -n "$ctl/postrm" || fail "maintainer script syntax"
"$root/usr/bin/laneway" --help | grep -q 'usage: laneway' || fail "packaged laneway does not run"
"$root/usr/bin/laneway-supervisor" --help | grep -q 'laneway-supervisor' || fail "supervisor --help"
readelf -S "$root/usr/bin/laneway-supervisor" | grep -q '\.debug_info' && fail "not stripped"
zcat "$root/usr/share/man/man1/laneway.1.gz" | grep -q '^\.TH LANEWAY 1' || fail "man page"
if command -v man >/dev/null 2>&1; then
  man -l "$root/usr/share/man/man1/laneway-supervisor.1.gz" 2>/dev/null | grep -q WATCHDOG_USEC ||
    echo "note: man did not render the page"
fi
bash -n "$root/usr/share/bash-completion/completions/laneway" || fail "completion syntax"
grep -q 'token_file = "token"' "$root/etc/laneway/laneway.toml" || fail "config token_file"

unit="$root/lib/systemd/system/laneway.service"
if command -v systemd-analyze >/dev/null 2>&1; then
  echo "--- systemd-analyze verify:"
  # verify checks that ExecStart's binary exists: point a copy at the scratch root.
  sed "s#/usr/bin/laneway#$root/usr/bin/laneway#" "$unit" > "$root/laneway.service"
  out=$(systemd-analyze verify "$root/laneway.service" 2>&1 || true)
  echo "${out:-(no findings)}"
  if grep -v -e 'Failed to open /dev/tty' -e 'Failed to setup working directory' \
       -e 'not running as root' <<<"$out" | grep -qi -e 'unknown key' -e 'invalid' -e 'failed to parse'; then
    fail "systemd-analyze verify found errors"
  fi
  echo "--- systemd-analyze security:"
  sec=$(systemd-analyze security --offline=yes "$root/laneway.service" 2>&1 || true)
  echo "$sec" | tail -n 3
  score=$(grep -o 'Overall exposure level for laneway.service: [0-9.]*' <<<"$sec" | awk '{print $NF}')
  [ -n "$score" ] || fail "no exposure score"
  echo "exposure score: $score"
  awk -v s="$score" 'BEGIN { exit !(s < 5.0) }' || fail "exposure $score is not below 5.0"
else
  echo "SKIP: systemd-analyze missing"
fi

if command -v lintian >/dev/null 2>&1; then
  echo "--- lintian (reported, not failing the test):"
  lintian --tag-display-limit 0 "$deb" 2>&1 || true
else
  echo "SKIP: lintian missing"
fi
echo "PackageDeb: ok"
