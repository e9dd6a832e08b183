import { describe, expect, it } from "vitest";

import { formatDuration, meterValue, phaseText } from "./call-state";

describe("the meet bar's words and numbers", () => {
  it("formats durations as mm:ss, and h:mm:ss past an hour", () => {
    expect(formatDuration(0)).toBe("00:00");
    expect(formatDuration(59_999)).toBe("00:59");
    expect(formatDuration(61_000)).toBe("01:01");
    expect(formatDuration(3_600_000 + 62_000)).toBe("1:01:02");
    expect(formatDuration(-5)).toBe("00:00");
  });

  it("maps dBFS onto the level meter, empty at -60 and below, full at 0", () => {
    expect(meterValue(-100)).toBe(0);
    expect(meterValue(-60)).toBe(0);
    expect(meterValue(-30)).toBe(0.5);
    expect(meterValue(0)).toBe(1);
    expect(meterValue(6)).toBe(1);
  });

  it("never tells the customer a meet was missed or declined", () => {
    for (const outgoing of [true, false]) {
      expect(phaseText("ended", outgoing)).toBe("Meet ended");
    }
  });
});
