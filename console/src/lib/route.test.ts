import { describe, expect, it } from "vitest";
import { parseExcluded, parseRoute } from "./route";

describe("parseRoute", () => {
  it("reads every field and the quoted reason", () => {
    const header =
      'model=mock/echo; deployment=mock-echo-b; reason=alias; retries=2; failovers=1; registry=4; why="alias demo-failover: first in chain of 3 eligible"';
    expect(parseRoute(header)).toEqual({
      model: "mock/echo",
      deployment: "mock-echo-b",
      reason: "alias",
      retries: 2,
      failovers: 1,
      registry: "4",
      why: "alias demo-failover: first in chain of 3 eligible",
    });
  });

  it("accepts a header without a reason text, and refuses garbage", () => {
    expect(parseRoute("model=a; deployment=-; reason=explicit; retries=0; failovers=0; registry=1")?.why).toBe("");
    expect(parseRoute(null)).toBeNull();
    expect(parseRoute("nonsense")).toBeNull();
  });
});

describe("parseExcluded", () => {
  it("splits model=requirement pairs and the count of the rest", () => {
    expect(parseExcluded("gpt-4o=max_input_price;claude-opus-4-5=capability:vision;+4")).toEqual({
      items: [
        { model: "gpt-4o", requirement: "max_input_price" },
        { model: "claude-opus-4-5", requirement: "capability:vision" },
      ],
      more: 4,
    });
    expect(parseExcluded(null)).toEqual({ items: [], more: 0 });
  });
});
