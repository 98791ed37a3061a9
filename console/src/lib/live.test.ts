import { describe, expect, it } from "vitest";
import { LiveWindow, toFrame } from "./live";

const frame = (second: number, fields: Record<string, unknown> = {}) =>
  toFrame({ time: `2026-01-01T00:00:${String(second).padStart(2, "0")}Z`, ...fields });

describe("toFrame", () => {
  it("treats fields proto3 left out as zero", () => {
    const f = toFrame({ time: "t", cost_usd: "0.5" });
    expect(f.requests).toBe(0);
    expect(f.circuits).toEqual([]);
    expect(f.cost_usd).toBe("0.5");
  });
});

describe("LiveWindow", () => {
  it("derives rates over the last seconds", () => {
    const w = new LiveWindow();
    w.add(frame(1, { requests: 4, errors: 1, prompt_tokens: 10, completion_tokens: 10, cost_usd: "0.1" }));
    w.add(frame(2, { requests: 6, errors: 0, prompt_tokens: 20, completion_tokens: 0, cost_usd: "0.2" }));
    w.add(frame(3, { requests: 0 }));
    const s = w.summary(3);
    expect(s.requestsPerSecond).toBeCloseTo(10 / 3);
    expect(s.errorRate).toBeCloseTo(0.1);
    expect(s.tokensPerSecond).toBeCloseTo(40 / 3);
    expect(s.spendPerSecond).toBe("0.100");
    expect(w.summary(1).requestsPerSecond).toBe(0);
    expect(w.summary(1).errorRate).toBe(0); // no requests: no error rate, never NaN
  });

  it("keeps one frame per second, in order, within its capacity", () => {
    const w = new LiveWindow(3);
    for (const s of [1, 2, 3, 4]) w.add(frame(s, { requests: s }));
    w.add(frame(3, { requests: 30 })); // a repeated second replaces the old frame
    w.add(frame(1, { requests: 10 })); // already dropped: ignored
    expect(w.frames.map((f) => f.requests)).toEqual([2, 30, 4]);
    const [xs, ys] = w.series((f) => f.requests);
    expect(xs).toHaveLength(3);
    expect(ys).toEqual([2, 30, 4]);
  });

  it("is empty-safe", () => {
    const w = new LiveWindow();
    expect(w.summary(10)).toMatchObject({ seconds: 0, requestsPerSecond: 0, spendPerSecond: "0" });
    expect(w.latest()).toBeUndefined();
  });
});
