import { describe, expect, it } from "vitest";
import { estimateCost } from "./cost";

describe("estimateCost", () => {
  it("prices input, cached input and output per million tokens", () => {
    const pricing = { input: 2, output: 8, cached_input: 0.5 };
    expect(estimateCost(pricing, { prompt_tokens: 1000, completion_tokens: 500 })).toBeCloseTo(0.006);
    expect(
      estimateCost(pricing, { prompt_tokens: 1000, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 1000 } }),
    ).toBeCloseTo(0.0005);
  });

  it("prices cached tokens as input when the model has no cached price", () => {
    expect(estimateCost({ input: 1, output: 1 }, { prompt_tokens: 10, prompt_tokens_details: { cached_tokens: 5 } })).toBeCloseTo(1e-5);
  });

  it("knows when it cannot price", () => {
    expect(estimateCost(undefined, { prompt_tokens: 1 })).toBeNull();
    expect(estimateCost({ input: 1 }, { prompt_tokens: 1 })).toBeNull();
    expect(estimateCost({ input: 1, output: 1 }, undefined)).toBeNull();
  });
});
