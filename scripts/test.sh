#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run): ./scripts/test.sh
#
# Runs on a fresh Debian 12 machine as root (CI) or on a developer's machine, any number of
# times: it installs only what is missing (Debian packages through apt-get, schemathesis into
# a venv under ~/.cache/meetdesk/venv, the widget's and the browser tests' npm packages with
# `npm ci` when their package-lock.json changed), then runs, in order:
#   setup → fmt → clippy → test (nextest + doctests, or cargo test) → browser → desktop → schemathesis
# and stops at the first stage that fails. Logs go to test-output/ (git-ignored).
#
#   ./scripts/test.sh                    # every stage
#   ./scripts/test.sh test schemathesis  # setup, then only the stages named
#   ./scripts/test.sh setup              # only install what is missing
#
# Environment:
#   CARGO_TARGET_DIR      default ~/.cache/meetdesk/target (kept outside the clone)
#   MEETDESK_VENV         default ~/.cache/meetdesk/venv
#   MEETDESK_SKIP_INSTALL=1   never call apt-get or pip (fail instead if something is missing)
#   MEETDESK_ST_EXAMPLES  schemathesis test cases per operation (default 20)
#   MEETDESK_ST_TIMEOUT   hard limit in seconds for the schemathesis run (default 300)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/meetdesk/target}
# CI builds each commit once: incremental data would only grow the cached target dir.
if [[ ${CI:-} == true ]]; then export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}; fi
VENV=${MEETDESK_VENV:-$HOME/.cache/meetdesk/venv}
SCHEMATHESIS_VERSION=4.32.5
ST_EXAMPLES=${MEETDESK_ST_EXAMPLES:-20}
ST_TIMEOUT=${MEETDESK_ST_TIMEOUT:-300}
OUT=$ROOT/test-output
mkdir -p "$OUT" "$CARGO_TARGET_DIR"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

ALL_STAGES=(fmt clippy test browser desktop schemathesis)
WANTED=("$@")
for s in "${WANTED[@]}"; do
  # `setup` alone: only install what is missing (scripts/run-demo.sh uses it).
  [[ $s == setup || " ${ALL_STAGES[*]} " == *" $s "* ]] ||
    { echo "unknown stage \"$s\"; stages: setup ${ALL_STAGES[*]}" >&2; exit 2; }
done
wanted() {
  [[ ${#WANTED[@]} -eq 0 || " ${WANTED[*]} " == *" $1 "* ]]
}

START=$SECONDS
STAGE=""
STAGE_START=$SECONDS
TIMES=()
stage() {
  finish_stage
  STAGE=$1
  STAGE_START=$SECONDS
  printf '\n==================== stage: %s ====================\n' "$STAGE"
}
finish_stage() {
  if [[ -n $STAGE ]]; then
    TIMES+=("$(printf '%-14s %4ss' "$STAGE" $((SECONDS - STAGE_START)))")
  fi
  STAGE=""
}
SERVER_PID=""
WORK=""
stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [[ -n $WORK ]]; then rm -rf "$WORK"; fi
}
on_exit() {
  local rc=$?
  local failed=$STAGE
  stop_server
  finish_stage
  printf '\n==================== summary ====================\n'
  printf '%s\n' "${TIMES[@]}"
  if [[ $rc -eq 0 ]]; then
    printf 'all stages passed in %ss (logs in test-output/)\n' $((SECONDS - START))
  else
    printf 'FAILED in stage "%s" (exit %s) after %ss; logs in test-output/\n' "$failed" "$rc" $((SECONDS - START))
  fi
  exit "$rc"
}
trap on_exit EXIT

# Is this Debian package installed (not just known, or removed with its config kept)?
have_pkg() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

apt_install() {
  [[ $# -gt 0 ]] || return 0
  if [[ ${MEETDESK_SKIP_INSTALL:-} == 1 ]]; then
    echo "missing Debian packages: $* (MEETDESK_SKIP_INSTALL=1, not installing)" >&2
    return 1
  fi
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then sudo=(sudo); else
      echo "missing Debian packages: $*; run as root or install them: apt-get install $*" >&2
      return 1
    fi
  fi
  echo "installing Debian packages: $*"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >"$OUT/apt-get.log" 2>&1 || { tail -n 30 "$OUT/apt-get.log" >&2; return 1; }
}

venv_ready() {
  [[ -x $VENV/bin/st ]] && [[ -x $VENV/bin/python ]] &&
    compgen -G "$VENV/lib/python3*/site-packages/schemathesis-$SCHEMATHESIS_VERSION.dist-info" >/dev/null
}

# ---------------------------------------------------------------------------------------------
stage setup
for tool in cargo rustc; do
  command -v "$tool" >/dev/null || { echo "no $tool on PATH: install the Rust toolchain (rustup) first" >&2; exit 1; }
done
cargo fmt --version >/dev/null 2>&1 || { echo "rustfmt missing: rustup component add rustfmt" >&2; exit 1; }
cargo clippy --version >/dev/null 2>&1 || { echo "clippy missing: rustup component add clippy" >&2; exit 1; }

missing=()
# postgresql: the server binaries (initdb, postgres) that meetdesk-testkit starts in tests.
# pkg-config, libssl-dev, cmake: native builds of -sys crates (cmake builds libopus).
# libasound2-dev: cpal's ALSA backend. pulseaudio, pulseaudio-utils, libasound2-plugins: the
# real-device audio test (null sink + virtual source; ALSA default routed to PulseAudio).
# coturn: the TURN tests (each starts its own turnserver on 127.0.0.1).
# curl: the schemathesis stage. chromium: the browser stage (Playwright drives Debian's);
# sqlite3: the browser stage reads the link signing key to sign a link for a meet that does not exist.
# The desktop app (Tauri 2: WebKitGTK, GTK, tray, SVG icons) to build it in every stage; to drive
# it in the desktop stage: Xvfb, WebKitWebDriver, a D-Bus session, gnome-keyring + secret-tool,
# ImageMagick (`import`: screenshots of the virtual display; `compare`: the tray icon), xdotool
# (which windows are shown), dunst (the notification server the ring test observes).
if [[ -z ${MEETDESK_PG_BIN:-} ]] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  missing+=(postgresql)
fi
for pkg in pkg-config libssl-dev cmake curl sqlite3 libasound2-dev pulseaudio pulseaudio-utils libasound2-plugins chromium \
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev \
  xvfb xauth webkit2gtk-driver dbus dbus-x11 gnome-keyring libsecret-tools imagemagick xdotool dunst; do
  have_pkg "$pkg" || missing+=("$pkg")
done
command -v cc >/dev/null || missing+=(build-essential)
installing_coturn=""
have_pkg coturn || { missing+=(coturn); installing_coturn=1; }
if ! venv_ready; then
  # A venv needs python3 with venv and ensurepip; Debian's own python3 (prefix /usr) has them
  # in the separate python3-venv package.
  if ! command -v python3 >/dev/null; then
    missing+=(python3 python3-venv)
  elif [[ $(python3 -c 'import sys; print(sys.base_prefix)') == /usr ]]; then
    have_pkg python3-venv || missing+=(python3-venv)
  elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
  fi
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  apt_install "${missing[@]}"
else
  echo "Debian packages: all present"
fi
# coturn's package enables a system-wide TURN server under systemd (without systemd, e.g. in a
# container, its init script starts nothing unless /etc/default/coturn enables it). The tests
# need none: stop and disable the one this run just installed.
if [[ -n $installing_coturn && -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
  runner=(); [[ $(id -u) -eq 0 ]] || runner=(sudo)
  "${runner[@]}" systemctl disable --now coturn >/dev/null 2>&1 || true
fi

if venv_ready; then
  echo "schemathesis $SCHEMATHESIS_VERSION: present in $VENV"
else
  [[ ${MEETDESK_SKIP_INSTALL:-} != 1 ]] || { echo "schemathesis missing in $VENV" >&2; exit 1; }
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv --clear "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    >"$OUT/pip.log" 2>&1 || { tail -n 30 "$OUT/pip.log" >&2; exit 1; }
  venv_ready || { echo "schemathesis did not install into $VENV" >&2; exit 1; }
fi
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

# ---------------------------------------------------------------------------------------------
if wanted fmt; then
  stage fmt
  cargo fmt --all -- --check
fi

# ---------------------------------------------------------------------------------------------
if wanted clippy; then
  stage clippy
  cargo clippy --workspace --all-targets -- -D warnings 2>&1 | tee "$OUT/clippy.log"
fi

# ---------------------------------------------------------------------------------------------
if wanted test; then
  stage test
  if cargo nextest --version >/dev/null 2>&1; then
    # Everything but the real-time audio tests in parallel, then those alone, one at a time
    # (.config/nextest.toml).
    cargo nextest run --workspace --no-fail-fast --profile fast 2>&1 | tee "$OUT/nextest.log"
    cargo nextest run --workspace --no-fail-fast --profile realtime 2>&1 | tee "$OUT/nextest-realtime.log"
    cargo test --workspace --doc 2>&1 | tee "$OUT/doctest.log"
  else
    cargo test --workspace --no-fail-fast 2>&1 | tee "$OUT/cargo-test.log"
  fi
fi

# ---------------------------------------------------------------------------------------------
# `npm ci` in a package directory unless its node_modules was installed from this very
# package-lock.json (a stamp holds the lock file's hash).
npm_ci() {
  local dir=$1 stamp=$1/node_modules/.meetdesk-lock.sha256 want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    echo "npm packages of ${dir#"$ROOT"/}: present"
    return 0
  fi
  [[ ${MEETDESK_SKIP_INSTALL:-} != 1 ]] || { echo "npm packages missing in $dir (MEETDESK_SKIP_INSTALL=1)" >&2; return 1; }
  echo "npm ci in ${dir#"$ROOT"/}"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund) >"$OUT/npm-ci-$(basename "$dir").log" 2>&1 ||
    { tail -n 30 "$OUT/npm-ci-$(basename "$dir").log" >&2; return 1; }
  echo "$want" >"$stamp"
}

if wanted browser; then
  stage browser
  # Node 20.19+ (Vite 7); Debian 12's own nodejs is 18, so it is not installed from apt here.
  command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "node and npm are needed for the browser stage (Node 20.19 or newer)" >&2; exit 1; }
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)' ||
    { echo "Node $(node --version) is too old for the browser stage: Node 20.19 or newer" >&2; exit 1; }
  npm_ci "$ROOT/widget"
  npm_ci "$ROOT/tests/browser"
  (cd widget && npm run build) 2>&1 | tee "$OUT/widget-build.log"
  # The widget UI's pure rules (Vitest).
  (cd widget && npm test) 2>&1 | tee "$OUT/widget-unit.log"
  cargo build -p meetdesk-server -p meetdesk-cli --bins 2>&1 | tee "$OUT/browser-build.log"
  mkdir -p "$OUT/browser"
  # Playwright's own report: one line per test, then "N passed".
  (cd tests/browser && npm run --silent typecheck && npx playwright test) 2>&1 | tee "$OUT/browser.log"
fi

# ---------------------------------------------------------------------------------------------
if wanted desktop; then
  stage desktop
  command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "node and npm are needed for the desktop stage (Node 20.19 or newer)" >&2; exit 1; }
  npm_ci "$ROOT/ui"
  (cd ui && npm run build) 2>&1 | tee "$OUT/ui-build.log"
  # The desktop UI's pure modules (Vitest).
  (cd ui && npm test) 2>&1 | tee "$OUT/ui-unit.log"
  # tauri-driver (WebDriver for Tauri apps, in front of Debian's WebKitWebDriver): built once into
  # ~/.cache/meetdesk (2.x: crates.io's "latest" is a 3.0 alpha).
  TAURI_DRIVER=$HOME/.cache/meetdesk/tauri-driver/bin/tauri-driver
  if [[ ! -x $TAURI_DRIVER ]]; then
    [[ ${MEETDESK_SKIP_INSTALL:-} != 1 ]] || { echo "tauri-driver missing at $TAURI_DRIVER" >&2; exit 1; }
    echo "installing tauri-driver 2 into ~/.cache/meetdesk/tauri-driver"
    cargo install tauri-driver --version '^2' --locked --root "$HOME/.cache/meetdesk/tauri-driver" \
      >"$OUT/tauri-driver-install.log" 2>&1 || { tail -n 30 "$OUT/tauri-driver-install.log" >&2; exit 1; }
  fi
  cargo build -p meetdesk-server -p meetdesk-desktop -p meetdesk-cli --bins 2>&1 | tee "$OUT/desktop-build.log"
  mkdir -p "$OUT/desktop"
  MEETDESK_SERVER_BIN=$CARGO_TARGET_DIR/debug/meetdesk-server \
    MEETDESK_DESKTOP_BIN=$CARGO_TARGET_DIR/debug/meetdesk-desktop TAURI_DRIVER=$TAURI_DRIVER \
    MEETDESK_CLI_BIN=$CARGO_TARGET_DIR/debug/meetdesk-cli \
    tests/desktop/run.sh 2>&1 | tee "$OUT/desktop.log"
fi

# ---------------------------------------------------------------------------------------------
wanted schemathesis || exit 0
stage schemathesis
cargo build -p meetdesk-server --bins 2>&1 | tee "$OUT/server-build.log"
SERVER_BIN=$CARGO_TARGET_DIR/debug/meetdesk-server
if [[ ! -x $SERVER_BIN ]]; then
  # TODO: remove this skip once crates/server always ships the meetdesk-server binary.
  printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
  printf '!!! SKIPPING the schemathesis stage: %s was not built (no bin target yet)\n' "$SERVER_BIN"
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
  STAGE="schemathesis (SKIPPED)"
  exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/meetdesk-st.XXXXXX")

PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
echo "starting $SERVER_BIN on $BASE (log: test-output/server.log)"
"$SERVER_BIN" --listen "127.0.0.1:$PORT" --database "sqlite://$WORK/x.db?mode=rwc" --demo \
  >"$OUT/server.log" 2>&1 </dev/null &
SERVER_PID=$!

ready=""
for _ in $(seq 1 300); do # 300 × 0.2 s = at most 60 s
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "the server exited while starting; its log:" >&2
    tail -n 40 "$OUT/server.log" >&2
    exit 1
  fi
  if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/healthz" || true) == 200 ]]; then
    ready=1
    break
  fi
  sleep 0.2
done
if [[ -z $ready ]]; then
  echo "GET /healthz did not answer 200 within 60 s; server log:" >&2
  tail -n 40 "$OUT/server.log" >&2
  exit 1
fi
echo "server ready"

TOKEN=$(curl -fsS --max-time 10 -X POST -H 'content-type: application/json' \
  -d '{"email":"alice@demo.test","password":"demo"}' "$BASE/api/auth/sign-in" |
  "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
[[ -n $TOKEN ]] || { echo "sign-in returned no token" >&2; exit 1; }
echo "signed in as alice@demo.test"

# Sign-out is left out: it would revoke the token half-way and turn the rest into 401s.
echo "schemathesis: --checks not_a_server_error, $ST_EXAMPLES examples per operation, at most ${ST_TIMEOUT}s"
# Run from test-output/: schemathesis keeps its cache (.schemathesis/, crashes to replay first) in
# the current directory.
cd "$OUT"
timeout --kill-after=10 "$ST_TIMEOUT" "$VENV/bin/st" run "$BASE/api/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error \
  --max-examples "$ST_EXAMPLES" \
  --exclude-path /api/auth/sign-out \
  --request-timeout 10 \
  --generation-database none \
  --no-color \
  --report junit --report-junit-path "$OUT/schemathesis-junit.xml" \
  2>&1 | tee "$OUT/schemathesis.log"
