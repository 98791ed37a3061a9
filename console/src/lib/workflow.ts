// Workflows: a chain of model calls. Each step's prompt is a template over the
// workflow's input and earlier steps' outputs:
//   {{input}}          the text the run starts with
//   {{steps.N}}        step N's output (1-based), {{steps.N.json.field}} a field of its JSON output

export interface WorkflowStep {
  name: string;
  model: string; // a model, an alias or "auto"
  requirements?: Record<string, unknown>; // for "auto"
  system?: string;
  prompt: string;
  json?: boolean; // ask for a JSON object (response_format json_object)
}

export interface Workflow {
  name: string;
  steps: WorkflowStep[];
}

export class TemplateError extends Error {}

const PLACEHOLDER = /\{\{\s*([^}]+?)\s*\}\}/g;

export function render(template: string, input: string, outputs: readonly string[]): string {
  return template.replace(PLACEHOLDER, (_, expr: string) => {
    if (expr === "input") return input;
    const match = /^steps\.(\d+)(?:\.json((?:\.[A-Za-z0-9_]+)+))?$/.exec(expr);
    if (!match) throw new TemplateError(`unknown placeholder {{${expr}}}: use {{input}} or {{steps.N}}`);
    const index = Number(match[1]) - 1;
    if (index < 0 || index >= outputs.length) throw new TemplateError(`{{${expr}}} names a step that has not run before this one`);
    const output = outputs[index]!;
    if (!match[2]) return output;
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch {
      throw new TemplateError(`{{${expr}}}: step ${index + 1}'s output is not JSON`);
    }
    for (const field of match[2].slice(1).split(".")) {
      value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[field] : undefined;
    }
    if (value === undefined) throw new TemplateError(`{{${expr}}}: no such field in step ${index + 1}'s output`);
    return typeof value === "string" ? value : JSON.stringify(value);
  });
}

/** Problems that make a workflow unrunnable, found before any call is made. */
export function validateWorkflow(w: Workflow): string[] {
  const problems: string[] = [];
  if (!w.name.trim()) problems.push("The workflow needs a name.");
  if (w.steps.length === 0) problems.push("Add at least one step.");
  w.steps.forEach((step, i) => {
    if (!step.model.trim()) problems.push(`Step ${i + 1} needs a model.`);
    if (!step.prompt.trim()) problems.push(`Step ${i + 1} needs a prompt.`);
    for (const m of step.prompt.matchAll(PLACEHOLDER)) {
      const ref = /^steps\.(\d+)/.exec(m[1]!.trim());
      if (ref && Number(ref[1]) > i) problems.push(`Step ${i + 1} uses {{${m[1]!.trim()}}}, which has not run yet.`);
    }
  });
  return problems;
}

/** A workflow from imported JSON, checked field by field. */
export function parseWorkflow(text: string): Workflow {
  const raw: unknown = JSON.parse(text);
  if (!raw || typeof raw !== "object") throw new Error("A workflow is a JSON object.");
  const o = raw as Record<string, unknown>;
  if (typeof o.name !== "string") throw new Error('A workflow needs a "name" string.');
  if (!Array.isArray(o.steps)) throw new Error('A workflow needs a "steps" array.');
  const steps = o.steps.map((s: unknown, i: number): WorkflowStep => {
    const step = (s ?? {}) as Record<string, unknown>;
    if (typeof step.model !== "string" || typeof step.prompt !== "string") {
      throw new Error(`Step ${i + 1} needs "model" and "prompt" strings.`);
    }
    return {
      name: typeof step.name === "string" ? step.name : `step ${i + 1}`,
      model: step.model,
      prompt: step.prompt,
      system: typeof step.system === "string" ? step.system : undefined,
      json: step.json === true,
      requirements: step.requirements && typeof step.requirements === "object" ? (step.requirements as Record<string, unknown>) : undefined,
    };
  });
  return { name: o.name, steps };
}

/** The Chat Completions body for one step (streamed, with usage). */
export function stepBody(step: WorkflowStep, prompt: string): Record<string, unknown> {
  const messages = [];
  if (step.system?.trim()) messages.push({ role: "system", content: step.system });
  messages.push({ role: "user", content: prompt });
  const body: Record<string, unknown> = { model: step.model, messages, stream: true, stream_options: { include_usage: true } };
  if (step.json) body.response_format = { type: "json_object" };
  if (step.model === "auto" && step.requirements && Object.keys(step.requirements).length) body.agentopia = { requirements: step.requirements };
  return body;
}
