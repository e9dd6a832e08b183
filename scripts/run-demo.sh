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
BASE=http://$LISTEN
cat <<INFO

meetdesk demo server on $BASE
  health check:  $BASE/healthz
  API (OpenAPI): $BASE/api/openapi.json
  demo page:     $BASE/api/demo
  sign in as:    alice@demo.test (admin), bob@demo.test, carol@demo.test, dave@demo.test
                 password: demo
  database:      $DB (SQLite; delete it to start over)
Press Ctrl-C to stop.

INFO
exec "$CARGO_TARGET_DIR/debug/meetdesk-server" --listen "$LISTEN" --demo
