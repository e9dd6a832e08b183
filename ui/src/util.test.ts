import { describe, expect, it } from "vitest";
import { errorText } from "./util";

describe("errorText", () => {
  it("reads a command's error message", () => {
    expect(errorText({ code: "offline", message: "The server cannot be reached." })).toBe(
      "The server cannot be reached.",
    );
  });

  it("falls back to the value as text", () => {
    expect(errorText(new Error("boom"))).toBe("boom");
    expect(errorText("plain")).toBe("plain");
    expect(errorText(undefined)).toBe("undefined");
    expect(errorText({ code: "x" })).toBe("[object Object]");
  });
});
