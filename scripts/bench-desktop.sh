#!/usr/bin/env bash
# The desktop app's footprint figures (docs/benchmarks.md): release builds of the app, an empty
# Tauri window (crates/empty-window, built in the same cargo run so both share one Tauri build),
# the server and the CLI; then tests/desktop/bench/footprint.mjs inside the desktop tests'
# environment (Xvfb, private D-Bus + keyring, private PulseAudio). Results on stdout and in
# test-output/desktop/footprint.json. Run on a quiet machine: the CPU figures are the machine's.
#
#   ./scripts/bench-desktop.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/meetdesk/target}
./scripts/test.sh setup
(cd ui && npm ci --no-audit --no-fund >/dev/null && npm run --silent build)
cargo build --release -p meetdesk-desktop -p meetdesk-empty-window -p meetdesk-server -p meetdesk-cli --bins
R=$CARGO_TARGET_DIR/release
TAURI_DRIVER=$HOME/.cache/meetdesk/tauri-driver/bin/tauri-driver
[[ -x $TAURI_DRIVER ]] || { echo "tauri-driver is missing: ./scripts/test.sh desktop installs it" >&2; exit 1; }
MEETDESK_SERVER_BIN=$R/meetdesk-server MEETDESK_DESKTOP_BIN=$R/meetdesk-desktop MEETDESK_CLI_BIN=$R/meetdesk-cli \
  MEETDESK_EMPTY_WINDOW_BIN=$R/meetdesk-empty-window \
  TAURI_DRIVER=$TAURI_DRIVER \
  MEETDESK_DESKTOP_RUN="node tests/desktop/bench/footprint.mjs" \
  tests/desktop/run.sh
