#!/usr/bin/env bash
# Runs the product on its embedded default with demo data: the meetdesk server (SQLite in the
# user's data dir, e.g. ~/.local/share/meetdesk/meetdesk.db; seeding is idempotent, so running
# this again keeps what you did) with the customer widget, and the desktop agent app pointed at
# it. On a fresh Debian machine it first installs what is missing (the same setup as the test
# command). Stop with Ctrl-C (or by closing the app).
#
#   ./scripts/run-demo.sh                    # server on 127.0.0.1:8780 + the desktop app
#   MEETDESK_LISTEN=127.0.0.1:9000 ./scripts/run-demo.sh
#   MEETDESK_NO_APP=1 ./scripts/run-demo.sh  # the server only
#
# The desktop app needs a display ($DISPLAY or $WAYLAND_DISPLAY); without one, only the server
# runs. Environment: CARGO_TARGET_DIR (default ~/.cache/meetdesk/target), MEETDESK_SKIP_INSTALL=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/meetdesk/target}
LISTEN=${MEETDESK_LISTEN:-127.0.0.1:8780}
case "$(uname -s)" in
  Darwin) DB="$HOME/Library/Application Support/meetdesk/meetdesk.db" ;;
  *) DB="${XDG_DATA_HOME:-$HOME/.local/share}/meetdesk/meetdesk.db" ;;
esac
APP=1
[[ ${MEETDESK_NO_APP:-} == 1 ]] && APP=""
[[ -n ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]] || { [[ -z $APP ]] || echo "no display: starting the server only"; APP=""; }

# Debian packages, Rust components (the test command's setup stage; idempotent).
if [[ $(uname -s) == Linux ]]; then
  ./scripts/test.sh setup >/dev/null
fi

# `npm ci` in a package directory unless its node_modules came from this very lock file.
npm_ci() {
  local want stamp=$1/node_modules/.meetdesk-lock.sha256
  want=$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)
  [[ -f $stamp && $(cat "$stamp") == "$want" ]] && return 0
  (cd "$1" && npm ci --no-audit --no-fund >/dev/null) && echo "$want" >"$stamp"
}

if command -v npm >/dev/null; then
  # The customer widget the server serves at /widget/ and /demo (Node 20.19+).
  npm_ci widget && (cd widget && npm run --silent build >/dev/null)
  # The desktop app's UI (embedded into the app at build time).
  [[ -z $APP ]] || { npm_ci ui && (cd ui && npm run --silent build >/dev/null); }
else
  echo "npm not found: install Node 20.19+ for the customer widget and the desktop app's UI" >&2
  APP=""
fi

if [[ -n $APP ]]; then
  cargo build -p meetdesk-server -p meetdesk-desktop --bins
else
  cargo build -p meetdesk-server --bins
fi

BASE=http://$LISTEN
cat <<INFO

meetdesk demo on $BASE
  demo shop:       $BASE/demo          (the customer widget on a page; a new visitor)
  demo customers:  $BASE/api/demo      (each customer's link opens /demo as them)
  health, API:     $BASE/healthz, $BASE/api/openapi.json
  agents:          alice@demo.test (admin), bob@demo.test, carol@demo.test, dave@demo.test
                   password: demo    (in the app: server $BASE)
  database:        $DB (SQLite; delete it to start over)
Press Ctrl-C to stop.

INFO
if [[ -z $APP ]]; then
  exec "$CARGO_TARGET_DIR/debug/meetdesk-server" --listen "$LISTEN" --demo
fi
"$CARGO_TARGET_DIR/debug/meetdesk-server" --listen "$LISTEN" --demo &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null' EXIT
# The app starts once the server answers (it would retry by itself, but sign-in is nicer).
for _ in $(seq 1 100); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
  sleep 0.2
done
MEETDESK_SERVER=$BASE "$CARGO_TARGET_DIR/debug/meetdesk-desktop"
