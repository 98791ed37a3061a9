import { describe, expect, it } from "vitest";
import { TokenPager } from "./paging";

describe("TokenPager", () => {
  it("walks forward by tokens and back by the stack", () => {
    const p = new TokenPager();
    expect([p.page, p.current, p.hasPrevious]).toEqual([1, "", false]);
    p.next("t2");
    p.next("t3");
    expect([p.page, p.current]).toEqual([3, "t3"]);
    p.previous();
    expect([p.page, p.current, p.hasPrevious]).toEqual([2, "t2", true]);
    p.next(""); // the last page has no next token: stay
    expect(p.page).toBe(2);
    p.reset();
    expect([p.page, p.current]).toEqual([1, ""]);
    p.previous();
    expect(p.page).toBe(1);
  });
});
