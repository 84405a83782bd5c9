#!/usr/bin/env bash
# Installs the Debian packages laneway needs to build and test, only those missing.
# Safe to run repeatedly; needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libzmq3-dev cppzmq-dev
  libmsgpack-cxx-dev
  libtomlplusplus-dev
  libboost1.74-dev libboost-filesystem1.74-dev
  libgtest-dev
  libcurl4-openssl-dev      # outbound HTTP: the openai runner, the Telegram channel
  nlohmann-json3-dev        # JSON for the gateway port, OpenAI and Telegram bodies
  libhowardhinnant-date-dev tzdata  # cron: time zones (date/tz.h over the system tzdata)
  libsystemd-dev            # sd_notify: READY/STATUS/WATCHDOG under systemd (supervisor only)
  dpkg-dev                  # `make deb`: CPack's DEB generator runs dpkg-shlibdeps
  python3 python3-websockets  # test-only: the WebSocket client and the HTTP doubles
  curl                      # test-only: a real HTTP client in integration tests
  prometheus                # test-only: promtool check metrics (Metrics* tests)
  chromium                  # test-only: the control page in a real browser (ControlPage*)
  lintian                   # test-only: PackageDeb reports what lintian says of the .deb
  systemd                   # test-only: systemd-analyze verify/security of the unit
  clang libfuzzer-14-dev    # sanitizer and fuzzing builds (make sanitize / fuzz)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
