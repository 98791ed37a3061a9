import { describe, expect, it } from "vitest";
import { diffLines, diffStats } from "./diff";

const apply = (lines: ReturnType<typeof diffLines>, side: "before" | "after") =>
  lines.filter((l) => l.op === "same" || l.op === (side === "before" ? "remove" : "add")).map((l) => l.text).join("\n");

describe("diffLines", () => {
  it("is all `same` for equal texts", () => {
    expect(diffStats(diffLines("a\nb", "a\nb"))).toEqual({ added: 0, removed: 0 });
  });

  it("finds a changed line in the middle", () => {
    const lines = diffLines("a\nweight = 1\nc", "a\nweight = 2\nc");
    expect(lines).toEqual([
      { op: "same", text: "a" },
      { op: "remove", text: "weight = 1" },
      { op: "add", text: "weight = 2" },
      { op: "same", text: "c" },
    ]);
  });

  it("always reproduces both sides", () => {
    const cases: [string, string][] = [
      ["", "x"],
      ["x", ""],
      ["a\nb\nc\nd", "b\nx\nd\ne"],
      ["[[model]]\nid = 1\n[[model]]\nid = 2", "[[model]]\nid = 2\n[[model]]\nid = 3\n"],
    ];
    for (const [before, after] of cases) {
      const lines = diffLines(before, after);
      expect(apply(lines, "before")).toBe(before);
      expect(apply(lines, "after")).toBe(after);
    }
  });

  it("is minimal: one insertion costs one line", () => {
    expect(diffStats(diffLines("a\nb\nc", "a\nb\nnew\nc"))).toEqual({ added: 1, removed: 0 });
  });
});
