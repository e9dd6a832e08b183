// Debian's Chromium as the browser tests launch it: headless, as root in CI, its microphone a
// fake device playing a WAV file (looped), loopback ICE candidates allowed (the server's media
// sockets are on 127.0.0.1), audio playing without a user gesture.

/** Debian's Chromium (MEETDESK_CHROMIUM overrides). */
export const CHROMIUM = process.env.MEETDESK_CHROMIUM ?? "/usr/bin/chromium";

/** A page's tone measurement (widget/src/level.ts). */
export type Reading = { hz: number; toneDbfs: number; rmsDbfs: number; detected: boolean };

/**
 * Launch flags. `mic`: "granted" answers getUserMedia without a prompt; "denied" answers every
 * permission prompt "block" (P7's microphone help).
 */
export function chromiumArgs(micWav: string, mic: "granted" | "denied" = "granted"): string[] {
  return [
    "--no-sandbox", // as root (CI)
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${micWav}`,
    ...(mic === "granted" ? ["--use-fake-ui-for-media-stream"] : ["--deny-permission-prompts"]),
    // Chromium gathers no loopback candidates without this.
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
  ];
}
