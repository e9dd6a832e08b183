#!/usr/bin/env bash
# The desktop app's footprint figures (docs/benchmarks.md): the app and an empty Tauri window
# (crates/empty-window) built with the shipped `desktop` profile in one cargo run (so both share
# one Tauri build), the server and the CLI in `release`; then tests/desktop/bench/footprint.mjs inside the desktop tests'
# environment (Xvfb, private D-Bus + keyring, private PulseAudio). Results on stdout and in
# test-output/desktop/footprint.json. Run on a quiet machine: the CPU figures are the machine's.
#
#   ./scripts/bench-desktop.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/meetdesk/target}
./scripts/test.sh setup
(cd ui && npm ci --no-audit --no-fund >/dev/null && npm run --silent build)
cargo build --profile desktop -p meetdesk-desktop -p meetdesk-empty-window --bins
cargo build --release -p meetdesk-server -p meetdesk-cli --bins
D=$CARGO_TARGET_DIR/desktop
R=$CARGO_TARGET_DIR/release
TAURI_DRIVER=$HOME/.cache/meetdesk/tauri-driver/bin/tauri-driver
[[ -x $TAURI_DRIVER ]] || { echo "tauri-driver is missing: ./scripts/test.sh desktop installs it" >&2; exit 1; }
MEETDESK_SERVER_BIN=$R/meetdesk-server MEETDESK_DESKTOP_BIN=$D/meetdesk-desktop MEETDESK_CLI_BIN=$R/meetdesk-cli \
  MEETDESK_EMPTY_WINDOW_BIN=$D/meetdesk-empty-window \
  TAURI_DRIVER=$TAURI_DRIVER \
  MEETDESK_DESKTOP_RUN="node tests/desktop/bench/footprint.mjs" \
  tests/desktop/run.sh
