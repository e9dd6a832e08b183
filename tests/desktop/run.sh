#!/usr/bin/env bash
# The desktop app's end-to-end tests (tests/desktop/*.test.mjs): a virtual display (Xvfb), a
# private D-Bus session with an unlocked gnome-keyring as its Secret Service, HOME in a temp
# dir, a private PulseAudio server (virtual microphone and speaker, reached by the app's cpal
# through ALSA's `default` device), then Node's test runner, one file at a time (they share the
# keyring). Needs the binaries built (scripts/test.sh desktop does it):
#   MEETDESK_SERVER_BIN MEETDESK_DESKTOP_BIN MEETDESK_CLI_BIN TAURI_DRIVER
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
for v in MEETDESK_SERVER_BIN MEETDESK_DESKTOP_BIN MEETDESK_CLI_BIN TAURI_DRIVER; do
  [[ -x ${!v:-} ]] || { echo "$v must name an executable (got \"${!v:-}\")" >&2; exit 1; }
done
for tool in pulseaudio pactl paplay parec; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (Debian: pulseaudio, pulseaudio-utils)" >&2; exit 1; }
done
mkdir -p test-output/desktop
TEST_HOME=$(mktemp -d "${TMPDIR:-/tmp}/meetdesk-desktop-home.XXXXXX")
PULSE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/meetdesk-desktop-pulse.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TEST_HOME" "$PULSE_DIR"
}
trap cleanup EXIT
mkdir -m 700 "$TEST_HOME/run"

# ---- PulseAudio (as crates/testkit/src/pulse.rs sets it up): a null sink as the default
# speaker, a null sink `meetdesk_mic_feed` whose monitor, remapped, is the default microphone
# (the test plays a tone into the feed with paplay). All at 48 kHz mono, in PULSE_DIR only.
mkdir -p "$PULSE_DIR/runtime" "$PULSE_DIR/state" "$PULSE_DIR/home"
PULSE_SOCKET=$PULSE_DIR/runtime/native
cat >"$PULSE_DIR/default.pa" <<PA
load-module module-native-protocol-unix socket=$PULSE_SOCKET auth-anonymous=1
load-module module-null-sink sink_name=meetdesk_speaker rate=48000 channels=1
load-module module-null-sink sink_name=meetdesk_mic_feed rate=48000 channels=1
load-module module-remap-source master=meetdesk_mic_feed.monitor source_name=meetdesk_microphone rate=48000 channels=1
set-default-sink meetdesk_speaker
set-default-source meetdesk_microphone
PA
printf 'autospawn = no\ndefault-server = unix:%s\n' "$PULSE_SOCKET" >"$PULSE_DIR/client.conf"
printf 'pcm.!default { type pulse server "unix:%s" }\nctl.!default { type pulse server "unix:%s" }\n' \
  "$PULSE_SOCKET" "$PULSE_SOCKET" >"$PULSE_DIR/asound.conf"
env -i PATH="$PATH" LANG=C HOME="$PULSE_DIR/home" XDG_RUNTIME_DIR="$PULSE_DIR/runtime" \
  XDG_CONFIG_HOME="$PULSE_DIR/home" PULSE_RUNTIME_PATH="$PULSE_DIR/runtime" PULSE_STATE_PATH="$PULSE_DIR/state" \
  pulseaudio --daemonize=no --system=no --use-pid-file=no --exit-idle-time=-1 --disallow-exit=yes \
  --realtime=no --high-priority=no --log-target=stderr -n -F "$PULSE_DIR/default.pa" \
  2>test-output/desktop/pulseaudio.log &
PIDS+=($!)
export PULSE_SERVER=unix:$PULSE_SOCKET PULSE_CLIENTCONFIG=$PULSE_DIR/client.conf
export ALSA_CONFIG_PATH=${ALSA_CONFIG_PATH:-/usr/share/alsa/alsa.conf}:$PULSE_DIR/asound.conf
pulse_ready=""
for _ in $(seq 1 200); do # 200 × 0.1 s = at most 20 s
  kill -0 "${PIDS[0]}" 2>/dev/null || { cat test-output/desktop/pulseaudio.log >&2; exit 1; }
  if pactl info 2>/dev/null | grep -q "Default Source: meetdesk_microphone"; then pulse_ready=1; break; fi
  sleep 0.1
done
[[ -n $pulse_ready ]] || { echo "PulseAudio did not come up" >&2; cat test-output/desktop/pulseaudio.log >&2; exit 1; }
# A reader on each monitor, or new capture streams start with 0.5–2 s of silence (NOTES.md).
for src in meetdesk_mic_feed.monitor meetdesk_speaker.monitor; do
  parec -d "$src" --raw >/dev/null 2>&1 &
  PIDS+=($!)
done

# Inside the session: the keyring daemon (creates and unlocks a login keyring, then detaches),
# then the tests. The daemon leaves with the session bus.
# MEETDESK_DESKTOP_TESTS picks files (default: all; sign-in first, it starts from an empty keyring).
TESTS=${MEETDESK_DESKTOP_TESTS:-"tests/desktop/signin.test.mjs $(ls tests/desktop/*.test.mjs | grep -v signin.test.mjs | tr '\n' ' ')"}
# MEETDESK_DESKTOP_RUN runs another command in the same environment instead (scripts/bench-desktop.sh).
RUN=${MEETDESK_DESKTOP_RUN:-"node --test --test-concurrency=1 --test-reporter=spec $TESTS"}
inner="printf test-keyring | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec $RUN"

env -u XDG_DATA_HOME -u XDG_CONFIG_HOME -u XDG_CACHE_HOME -u DBUS_SESSION_BUS_ADDRESS \
  HOME="$TEST_HOME" XDG_RUNTIME_DIR="$TEST_HOME/run" NO_AT_BRIDGE=1 WEBKIT_DISABLE_COMPOSITING_MODE=1 \
  xvfb-run --auto-servernum --server-args="-screen 0 1000x700x24 -nolisten tcp" \
  dbus-run-session -- bash -c "$inner"
