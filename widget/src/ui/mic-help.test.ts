import { describe, expect, it } from "vitest";

import { browserFamily, micHelp } from "./mic-help";

// Real user agents of the browsers P7 names.
const UA = {
  chromeLinux:
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
  headlessChrome:
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
  edge: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0",
  safari:
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Safari/605.1.15",
  iphone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Mobile/15E148 Safari/604.1",
  chromeIos:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/140.0.0.0 Mobile/15E148 Safari/604.1",
  ipadDesktopMode:
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Mobile/15E148 Safari/604.1",
  android:
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36",
  firefox: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
};

describe("browserFamily", () => {
  it("tells the browsers P7 has steps for", () => {
    expect(browserFamily(UA.chromeLinux)).toBe("chrome");
    expect(browserFamily(UA.headlessChrome)).toBe("chrome");
    expect(browserFamily(UA.edge)).toBe("chrome");
    expect(browserFamily(UA.safari)).toBe("safari");
    expect(browserFamily(UA.firefox)).toBe("firefox");
    expect(browserFamily("curl/8.0")).toBe("other");
  });

  it("puts every browser on iOS and Android under the OS's rules", () => {
    expect(browserFamily(UA.iphone)).toBe("ios");
    expect(browserFamily(UA.chromeIos)).toBe("ios");
    expect(browserFamily(UA.ipadDesktopMode)).toBe("ios");
    expect(browserFamily(UA.android)).toBe("android");
  });
});

describe("micHelp", () => {
  it("gives Chrome's site-settings path and the reload for a refusal", () => {
    const h = micHelp("denied", "chrome");
    expect(h.steps.join(" ")).toContain("Privacy and security → Site settings → Microphone");
    expect(h.steps.join(" ")).toContain("Reload");
  });

  it("gives each platform its own steps", () => {
    expect(micHelp("denied", "safari").steps.join(" ")).toContain("Safari → Settings → Websites → Microphone");
    expect(micHelp("denied", "ios").steps.join(" ")).toContain("start it again");
    expect(micHelp("denied", "android").steps.join(" ")).toContain("Apps → your browser → Permissions → Microphone");
  });

  it("says what to do when there is no microphone rather than blaming permissions", () => {
    const h = micHelp("no_device", "chrome");
    expect(h.title).toBe("No microphone found");
    expect(h.steps.join(" ")).not.toContain("Site settings");
  });
});
