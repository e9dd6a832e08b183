#!/usr/bin/env bash
# The desktop app's end-to-end test (tests/desktop/signin.test.mjs): a virtual display (Xvfb),
# a private D-Bus session with an unlocked gnome-keyring as its Secret Service, HOME in a temp
# dir, then Node's test runner. Needs the binaries built (scripts/test.sh desktop does it):
#   MEETDESK_SERVER_BIN MEETDESK_DESKTOP_BIN TAURI_DRIVER
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
for v in MEETDESK_SERVER_BIN MEETDESK_DESKTOP_BIN TAURI_DRIVER; do
  [[ -x ${!v:-} ]] || { echo "$v must name an executable (got \"${!v:-}\")" >&2; exit 1; }
done
mkdir -p test-output/desktop
TEST_HOME=$(mktemp -d "${TMPDIR:-/tmp}/meetdesk-desktop-home.XXXXXX")
trap 'rm -rf "$TEST_HOME"' EXIT
mkdir -m 700 "$TEST_HOME/run"

# Inside the session: the keyring daemon (creates and unlocks a login keyring, then detaches),
# then the tests. The daemon leaves with the session bus.
inner='printf "test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null &&
  exec node --test --test-reporter=spec tests/desktop/signin.test.mjs'

env -u XDG_DATA_HOME -u XDG_CONFIG_HOME -u XDG_CACHE_HOME -u DBUS_SESSION_BUS_ADDRESS \
  HOME="$TEST_HOME" XDG_RUNTIME_DIR="$TEST_HOME/run" NO_AT_BRIDGE=1 WEBKIT_DISABLE_COMPOSITING_MODE=1 \
  xvfb-run --auto-servernum --server-args="-screen 0 1000x700x24 -nolisten tcp" \
  dbus-run-session -- bash -c "$inner"
