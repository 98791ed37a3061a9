import { describe, expect, it } from "vitest";
import { TemplateError, parseWorkflow, render, stepBody, validateWorkflow } from "./workflow";

describe("render", () => {
  it("fills the input and earlier outputs", () => {
    expect(render("Summarise: {{input}}", "a text", [])).toBe("Summarise: a text");
    expect(render("Translate {{ steps.1 }} then {{steps.2}}", "", ["one", "two"])).toBe("Translate one then two");
  });

  it("reads fields of a JSON output", () => {
    expect(render("{{steps.1.json.title}} / {{steps.1.json.meta.tags}}", "", ['{"title":"T","meta":{"tags":["a"]}}'])).toBe('T / ["a"]');
  });

  it("names what is wrong", () => {
    expect(() => render("{{nope}}", "", [])).toThrow(TemplateError);
    expect(() => render("{{steps.2}}", "", ["only one"])).toThrow(/has not run/);
    expect(() => render("{{steps.1.json.x}}", "", ["not json"])).toThrow(/not JSON/);
    expect(() => render("{{steps.1.json.x}}", "", ['{"y":1}'])).toThrow(/no such field/);
  });
});

describe("validateWorkflow and parseWorkflow", () => {
  it("finds forward references and empty fields before running", () => {
    const problems = validateWorkflow({
      name: "w",
      steps: [
        { name: "a", model: "mock/echo", prompt: "{{steps.2}}" },
        { name: "b", model: "", prompt: "" },
      ],
    });
    expect(problems).toEqual(["Step 1 uses {{steps.2}}, which has not run yet.", "Step 2 needs a model.", "Step 2 needs a prompt."]);
  });

  it("round-trips an exported workflow and refuses a malformed one", () => {
    const w = { name: "two steps", steps: [{ name: "s1", model: "auto", prompt: "{{input}}", json: true, requirements: { prefer: "cost" } }] };
    expect(parseWorkflow(JSON.stringify(w))).toEqual({ ...w, steps: [{ ...w.steps[0], system: undefined }] });
    expect(() => parseWorkflow('{"name":"x"}')).toThrow(/steps/);
    expect(() => parseWorkflow('{"name":"x","steps":[{"model":1}]}')).toThrow(/Step 1/);
  });
});

describe("stepBody", () => {
  it("streams with usage, asks for JSON and passes auto's requirements", () => {
    const body = stepBody({ name: "s", model: "auto", prompt: "p", json: true, requirements: { prefer: "latency" }, system: "be brief" }, "hello");
    expect(body).toMatchObject({
      model: "auto",
      stream: true,
      response_format: { type: "json_object" },
      agentopia: { requirements: { prefer: "latency" } },
      messages: [{ role: "system" }, { role: "user", content: "hello" }],
    });
  });
});
