import { describe, expect, it } from "vitest";
import { addDecimals, formatUsd, fromPico, toPico } from "./decimal";

describe("decimal costs", () => {
  it("adds exactly where floats drift", () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(addDecimals(["0.1", "0.2"])).toBe("0.3");
    expect(addDecimals(["0.000051", "0.000051", "", "2"])).toBe("2.000102");
  });

  it("round-trips signs, integers and the 1e-12 precision", () => {
    for (const v of ["0", "-1.5", "12", "0.000000000001"]) expect(fromPico(toPico(v))).toBe(v);
    expect(() => toPico("1e-3")).toThrow();
  });

  it("formats small and large amounts readably", () => {
    expect(formatUsd("0")).toBe("$0");
    expect(formatUsd("0.000051")).toBe("$0.0000510");
    expect(formatUsd("12.345")).toBe("$12.35");
  });
});
