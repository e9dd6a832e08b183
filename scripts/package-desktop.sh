#!/usr/bin/env bash
# Builds the desktop app's installer for this OS with the Tauri CLI (@tauri-apps/cli, pinned
# in ui/package-lock.json; a prebuilt binary from npm, so nothing is compiled for it):
#   Linux: a .deb   (AppImage is not built: its tooling downloads AppRun at bundle time)
#   macOS: a .dmg   Windows: .msi and NSIS .exe   (the release workflow runs this on each)
# Built with the `desktop` profile (Cargo.toml: size-optimised, the audio path at full speed).
# Output: $CARGO_TARGET_DIR/desktop/bundle/<kind>/. The build takes ≈ 20 min cold on 2 cores.
#
#   ./scripts/package-desktop.sh            # the default bundle(s) for this OS
#   ./scripts/package-desktop.sh deb        # or name them
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/meetdesk/target}
case "$(uname -s)" in
  Linux) default=deb ;;
  Darwin) default=dmg ;;
  *) default=msi,nsis ;;
esac
bundles=${1:-$default}
(cd ui && npm ci --no-audit --no-fund >/dev/null && npm run --silent build)
# The config lives at the repository root; src-tauri/tauri.conf.json is a symlink to it, which
# a Windows checkout may have turned into a plain file: put the real one there for the CLI.
if [[ ! -L src-tauri/tauri.conf.json ]]; then cp tauri.conf.json src-tauri/tauri.conf.json; fi
cd src-tauri
# The UI is built above: the CLI would run the config's beforeBuildCommand from the config's
# real directory (the repository root, through the symlink), where ../ui is not the UI.
../ui/node_modules/.bin/tauri build --bundles "$bundles" --config '{"build":{"beforeBuildCommand":""}}' -- --profile desktop
echo "bundles in $CARGO_TARGET_DIR/desktop/bundle/"
