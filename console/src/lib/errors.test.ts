import { describe, expect, it } from "vitest";
import { flattenErrors, groupErrors } from "./errors";

const rows = [
  { provider: "mock", model: "mock/echo", error_codes: [{ error_code: "upstream_server_error", count: "3" }, { error_code: "upstream_rate_limited", count: "1" }] },
  { provider: "mock", model: "mock/large", error_codes: [{ error_code: "upstream_rate_limited", count: 2 }] },
  { provider: "openai", model: "gpt-4o" },
];

describe("errors", () => {
  it("flattens the report's per-model code counts (int64 strings included)", () => {
    expect(flattenErrors(rows)).toHaveLength(3);
    expect(flattenErrors(rows)[0]).toEqual({ code: "upstream_server_error", provider: "mock", model: "mock/echo", count: 3 });
  });

  it("regroups by any dimensions, largest first", () => {
    const counts = flattenErrors(rows);
    expect(groupErrors(counts, ["code"])).toEqual([
      { key: { code: "upstream_rate_limited" }, count: 3 },
      { key: { code: "upstream_server_error" }, count: 3 },
    ]);
    expect(groupErrors(counts, ["model"]).map((g) => [g.key.model, g.count])).toEqual([
      ["mock/echo", 4],
      ["mock/large", 2],
    ]);
    expect(groupErrors(counts, ["code", "provider", "model"])).toHaveLength(3);
    expect(groupErrors([], ["code"])).toEqual([]);
  });
});
