// P7 for the browser: which browser this is (from the user agent) and the steps that let a
// site use the microphone there. Pure: the widget and the meet page render what it returns.

import type { MicrophoneProblem } from "../media";

export type BrowserFamily = "chrome" | "safari" | "ios" | "android" | "firefox" | "other";

/** The browser family whose settings the help describes. iOS and Android come first: every browser there follows the OS's rules. */
export function browserFamily(userAgent: string): BrowserFamily {
  const ua = userAgent;
  if (/iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && /Mobile\//.test(ua))) return "ios";
  if (/Android/.test(ua)) return "android";
  if (/Firefox\//.test(ua)) return "firefox";
  if (/Chrome\/|Chromium\/|CriOS\/|Edg\//.test(ua)) return "chrome";
  if (/Safari\//.test(ua) && /Version\//.test(ua)) return "safari";
  return "other";
}

export interface MicHelp {
  title: string;
  /** What happened, in one sentence. */
  summary: string;
  /** The platform's steps (P7), in order. */
  steps: string[];
  /** Retrying in place can work (iOS needs the meet started again; the page must be reloaded after Chrome's site setting). */
  retryLabel: string;
}

const STEPS: Record<BrowserFamily, string[]> = {
  chrome: [
    "Click the microphone icon at the right of the address bar and allow the microphone for this site,",
    "or open Settings → Privacy and security → Site settings → Microphone: turn on \"Sites can ask to use your microphone\" and make sure this site is not blocked.",
    "Reload the page.",
    "Still blocked? Check that your computer's settings let Chrome use the microphone.",
  ],
  safari: ["Open Safari → Settings → Websites → Microphone.", "Set this site to Allow."],
  ios: [
    "Open the Settings app → your browser (for example Safari or Chrome).",
    "Allow the microphone (and camera).",
    "A meet that was running ends when this changes: start it again.",
  ],
  android: [
    "Open Settings → Apps → your browser → Permissions → Microphone, and choose Allow.",
    "Come back, press the microphone button in the meet again and allow it in the pop-up.",
  ],
  firefox: [
    "Click the microphone icon at the left of the address bar and remove the block for this site.",
    "Press Try again and choose Allow in the pop-up.",
  ],
  other: ["Open your browser's site settings and allow the microphone for this site.", "Press Try again."],
};

export function micHelp(problem: MicrophoneProblem, browser: BrowserFamily): MicHelp {
  const retryLabel = "Try again";
  switch (problem) {
    case "denied":
      return {
        title: "Your browser is blocking the microphone",
        summary: "To talk with the team, allow this site to use your microphone:",
        steps: STEPS[browser],
        retryLabel,
      };
    case "no_device":
      return {
        title: "No microphone found",
        summary: "Connect a microphone or headset (or check that it is switched on), then try again.",
        steps: ["Plug in a microphone or headset.", "If it is a Bluetooth headset, check that it is connected."],
        retryLabel,
      };
    case "in_use":
      return {
        title: "The microphone is busy",
        summary: "Another app or tab may be using it. Close it and try again.",
        steps: ["Close other apps or tabs that use the microphone (calls, recorders).", ...STEPS[browser].slice(0, 1)],
        retryLabel,
      };
    case "unsupported":
      return {
        title: "This page cannot use a microphone",
        summary: "Your browser only allows the microphone on secure (https) pages or does not support it.",
        steps: ["Open this page over https, or use an up-to-date Chrome, Safari, Edge or Firefox."],
        retryLabel,
      };
    default:
      return {
        title: "The microphone could not be opened",
        summary: "Something stopped the browser from opening your microphone.",
        steps: STEPS[browser],
        retryLabel,
      };
  }
}
