import { describe, expect, it } from "vitest";
import type { MicCheck } from "./bindings";
import { deviceOptions, micStatusText } from "./settings";

const dev = (name: string, is_default = false) => ({ name, is_default });

describe("deviceOptions", () => {
  it("puts the system default first and lists each device once", () => {
    const options = deviceOptions([dev("default", true), dev("USB Headset"), dev("USB Headset")], null);
    expect(options.map((o) => [o.value, o.label])).toEqual([
      ["", "System default (default)"],
      ["default", "default"],
      ["USB Headset", "USB Headset"],
    ]);
  });

  it("keeps a picked device that is not connected, marked", () => {
    const options = deviceOptions([dev("pulse", true)], "USB Headset");
    expect(options.at(-1)).toEqual({ value: "USB Headset", label: "USB Headset (not connected)", missing: true });
    expect(deviceOptions([dev("USB Headset")], "USB Headset").some((o) => o.missing)).toBe(false);
  });

  it("still offers the default when nothing is listed", () => {
    expect(deviceOptions([], null)).toEqual([{ value: "", label: "System default", missing: false }]);
  });
});

describe("micStatusText", () => {
  const check = (status: MicCheck["status"]): MicCheck => ({ status, message: null, steps: null, restart_needed: false });
  it("says each status in words", () => {
    expect(micStatusText(check("granted"))).toBe("Allowed");
    expect(micStatusText(check("denied"))).toBe("Not allowed");
    expect(micStatusText(check("not_determined"))).toBe("Not asked yet");
    expect(micStatusText(check("no_device"))).toBe("No microphone");
  });
});
