#!/usr/bin/env bash
# Fetch Debian's chromium, and the shared libraries a bare Debian 12 machine lacks for it, into
# DEST (default .jars/tools/chromium) without root: `apt-get download` and `dpkg-deb -x`, then
# a DEST/chromium wrapper that points the loader at the unpacked libraries. Used by the HTML
# report's screenshot test (tests/unit/test_runs_report.py); `make test` runs it once.
# Exits 1, saying why, when a package cannot be fetched or the browser does not start.
set -euo pipefail
dest=${1:-.jars/tools/chromium}
packages=(
  chromium chromium-common
  libasyncns0 libdouble-conversion3 libflac12 libharfbuzz-subset0 libminizip1 libmp3lame0
  libmpg123-0 libogg0 libopenh264-7 libopenjp2-7 libopus0 libpulse0 libsndfile1 libvorbis0a
  libvorbisenc2 libxnvctrl0
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
download() { (cd "$work" && apt-get download "${packages[@]}" >"$work/apt.log" 2>&1); }
# A fresh image may have no package lists yet: read them once (as root, or through sudo) and retry.
refresh() { if [ "$(id -u)" -eq 0 ]; then apt-get update -q; else sudo -n apt-get update -q; fi >/dev/null 2>&1; }
if ! download && ! { refresh && download; }; then
  echo "chromium: apt-get download failed: $(grep -m1 -E '^E:' "$work/apt.log" || tail -n1 "$work/apt.log")"
  exit 1
fi
rm -rf "$dest"
mkdir -p "$dest/root"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest/root"; done
root=$(cd "$dest/root" && pwd)
libs=$(find "$root" -name '*.so*' -printf '%h\n' | sort -u | tr '\n' ':')
cat >"$dest/chromium" <<EOF
#!/bin/sh
export LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:-}"
exec "$root/usr/lib/chromium/chromium" "\$@"
EOF
chmod +x "$dest/chromium"
page="$work/smoke.html"
echo '<html><body><h1>lakejobs</h1></body></html>' >"$page"
if ! timeout 120 "$dest/chromium" --headless --no-sandbox --disable-gpu --screenshot="$work/smoke.png" \
    "file://$page" >"$work/run.log" 2>&1 || [ ! -s "$work/smoke.png" ]; then
  echo "chromium: the unpacked browser does not start: $(grep -m1 -iE 'error while loading|cannot' "$work/run.log" || tail -n1 "$work/run.log")"
  rm -rf "$dest"
  exit 1
fi
echo "chromium: ready at $dest/chromium"
