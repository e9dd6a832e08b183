#!/usr/bin/env bash
# Builds and runs the meetdesk server with its demo channel, on its embedded default database
# (SQLite in the user's data dir, e.g. ~/.local/share/meetdesk/meetdesk.db; seeding is
# idempotent, so running this again keeps what you did). Stop it with Ctrl-C.
#
#   ./scripts/run-demo.sh                  # listens on 127.0.0.1:8780
#   MEETDESK_LISTEN=127.0.0.1:9000 ./scripts/run-demo.sh
#
# TODO: when the desktop app lands, build and start it here too, pointed at this server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/meetdesk/target}
LISTEN=${MEETDESK_LISTEN:-127.0.0.1:8780}
case "$(uname -s)" in
  Darwin) DB="$HOME/Library/Application Support/meetdesk/meetdesk.db" ;;
  *) DB="${XDG_DATA_HOME:-$HOME/.local/share}/meetdesk/meetdesk.db" ;;
esac

cargo build -p meetdesk-server --bins
# The customer widget the server serves at /widget/ and /demo (Node 20.19+).
if command -v npm >/dev/null; then
  want=$(sha256sum widget/package-lock.json | cut -d' ' -f1)
  stamp=widget/node_modules/.meetdesk-lock.sha256
  if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    (cd widget && npm ci --no-audit --no-fund) && echo "$want" >"$stamp"
  fi
  (cd widget && npm run --silent build >/dev/null)
else
  echo "npm not found: the customer widget (/demo, /widget/) is not built; install Node 20.19+ for it" >&2
fi
BASE=http://$LISTEN
cat <<INFO

meetdesk demo server on $BASE
  health check:  $BASE/healthz
  API (OpenAPI): $BASE/api/openapi.json
  demo shop:     $BASE/demo          (a page with the customer widget; a new visitor)
  demo customers: $BASE/api/demo     (each customer's chat link opens /demo as them)
  sign in as:    alice@demo.test (admin), bob@demo.test, carol@demo.test, dave@demo.test
                 password: demo
  database:      $DB (SQLite; delete it to start over)
Press Ctrl-C to stop.

INFO
exec "$CARGO_TARGET_DIR/debug/meetdesk-server" --listen "$LISTEN" --demo
