import { describe, expect, it } from "vitest";
import { qrShape } from "./qrPath";

describe("qrShape", () => {
  it("draws a square symbol with a four-module quiet zone", () => {
    const shape = qrShape("https://talk.example/");
    // a version-2 symbol is 25 modules; the URL fits in version 2 at level M
    expect(shape.size).toBe(25 + 8);
    expect(shape.path.startsWith("M4 4h1v1h-1z")).toBe(true); // finder pattern corner is dark
  });

  it("grows with longer text", () => {
    expect(qrShape(`https://talk.example/${"x".repeat(120)}`).size).toBeGreaterThan(33);
  });
});
