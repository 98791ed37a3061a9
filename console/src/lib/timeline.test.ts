import { describe, expect, it } from "vitest";
import { bySecond, noteState, successRate, type Outcome } from "./timeline";

const o = (at: number, ok: boolean, failovers = 0): Outcome => ({ at, ok, status: ok ? 200 : 503, retries: 0, failovers, servedBy: "m", latencyMs: 1 });

describe("bySecond", () => {
  it("counts outcomes per second and fills quiet seconds with zeros", () => {
    const seconds = bySecond([o(1000, true), o(1500, false), o(1999, true, 1), o(4000, true)]);
    expect(seconds).toEqual([
      { t: 1, ok: 2, failed: 1, retries: 0, failovers: 1 },
      { t: 2, ok: 0, failed: 0, retries: 0, failovers: 0 },
      { t: 3, ok: 0, failed: 0, retries: 0, failovers: 0 },
      { t: 4, ok: 1, failed: 0, retries: 0, failovers: 0 },
    ]);
  });

  it("orders requests that finished out of order", () => {
    expect(bySecond([o(3000, true), o(1000, true)]).map((s) => s.t)).toEqual([1, 2, 3]);
  });
});

describe("successRate and noteState", () => {
  it("is null before any request, then the share that succeeded", () => {
    expect(successRate([])).toBeNull();
    expect(successRate([o(0, true), o(0, false), o(0, true), o(0, true)])).toBe(0.75);
  });

  it("logs only changes of state", () => {
    let log = noteState([], 1, "closed");
    log = noteState(log, 2, "closed");
    log = noteState(log, 3, "open");
    log = noteState(log, 4, "half_open");
    log = noteState(log, 5, "closed");
    expect(log.map((t) => `${t.from}->${t.to}`)).toEqual(["->closed", "closed->open", "open->half_open", "half_open->closed"]);
  });
});
