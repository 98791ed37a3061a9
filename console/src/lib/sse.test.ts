import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("joins data lines and dispatches on a blank line", () => {
    const p = new SseParser();
    expect(p.push("data: a\ndata: b\n\n")).toEqual([{ event: "message", data: "a\nb" }]);
  });

  it("keeps a partial event across chunks, split anywhere", () => {
    const text = 'data: {"x":1}\n\ndata: {"x":2}\n\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(events.map((e) => e.data)).toEqual(['{"x":1}', '{"x":2}']);
    }
  });

  it("accepts CRLF and CR line ends, even a CRLF split between chunks", () => {
    const p = new SseParser();
    const events = [...p.push("data: one\r"), ...p.push("\n\r\ndata: two\r\r\n")];
    expect(events.map((e) => e.data)).toEqual(["one", "two"]);
  });

  it("ignores comments and events without data; reads event names and ids", () => {
    const p = new SseParser();
    expect(p.push(": live stats, 1/s\n\nevent: ping\n\n")).toEqual([]);
    expect(p.push("event: stats\nid: 7\ndata:x\n\n")).toEqual([{ event: "stats", id: "7", data: "x" }]);
  });

  it("removes only one leading space of a value", () => {
    const p = new SseParser();
    expect(p.push("data:  two spaces\n\n")[0]?.data).toBe(" two spaces");
  });
});
