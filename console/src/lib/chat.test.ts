import { describe, expect, it } from "vitest";
import { emptyAnswer, foldChunk, fromCompletion, isFirstToken } from "./chat";

describe("foldChunk", () => {
  it("concatenates content and keeps the usage and finish reason", () => {
    let a = emptyAnswer();
    a = foldChunk(a, { model: "mock/echo", choices: [{ delta: { content: "" } }] });
    a = foldChunk(a, { choices: [{ delta: { content: "Hel" } }] });
    a = foldChunk(a, { choices: [{ delta: { content: "lo" }, finish_reason: "stop" }] });
    a = foldChunk(a, { choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } });
    expect(a).toMatchObject({ content: "Hello", finishReason: "stop", model: "mock/echo", usage: { prompt_tokens: 3 } });
  });

  it("assembles tool-call arguments sent in pieces, by index", () => {
    let a = emptyAnswer();
    a = foldChunk(a, { choices: [{ delta: { tool_calls: [{ index: 0, id: "c1", function: { name: "get_weather", arguments: '{"ci' } }] } }] });
    a = foldChunk(a, { choices: [{ delta: { tool_calls: [{ index: 1, id: "c2", function: { name: "now", arguments: "{}" } }] } }] });
    a = foldChunk(a, { choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: 'ty":"Oslo"}' } }] } }] });
    expect(a.toolCalls).toEqual([
      { id: "c1", name: "get_weather", arguments: '{"city":"Oslo"}' },
      { id: "c2", name: "now", arguments: "{}" },
    ]);
  });

  it("records an in-band error and leaves the input untouched", () => {
    const before = emptyAnswer();
    const after = foldChunk(before, { error: { message: "upstream failed", code: "upstream_error" } });
    expect(after.error).toEqual({ message: "upstream failed", code: "upstream_error" });
    expect(before.error).toBeUndefined();
  });
});

describe("fromCompletion and isFirstToken", () => {
  it("reads a whole completion", () => {
    const a = fromCompletion({
      model: "m",
      choices: [{ message: { content: "hi", tool_calls: [{ id: "t", function: { name: "f", arguments: "{}" } }] }, finish_reason: "tool_calls" }],
      usage: { prompt_tokens: 1, completion_tokens: 1 },
    });
    expect(a).toMatchObject({ content: "hi", finishReason: "tool_calls", toolCalls: [{ name: "f" }] });
  });

  it("does not count the empty role chunk as the first token", () => {
    expect(isFirstToken({ choices: [{ delta: { content: "" } }] })).toBe(false);
    expect(isFirstToken({ choices: [{ delta: { content: "x" } }] })).toBe(true);
  });
});
