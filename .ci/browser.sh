#!/usr/bin/env bash
# Headless Chromium for the report's browser test (tests/report/test_report_browser.py), from Debian's
# own package: no browser download at test time. Quick no-op when /usr/bin/chromium is there.
# Without apt-get or root it only says so (the test then skips); XAIBENCH_REQUIRE_BROWSER=1 makes that an error.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
fi
if ! command -v apt-get >/dev/null || [ "$SUDO" = "none" ]; then
  echo "browser.sh: cannot install chromium here (needs apt-get and root); the browser test will skip" >&2
  [ "${XAIBENCH_REQUIRE_BROWSER:-0}" = "1" ] && exit 1
  exit 0
fi
echo "+ apt-get install chromium" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# fonts-dejavu-core: text in screenshots; chromium pulls its libraries (nss, gtk, ...) itself
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
