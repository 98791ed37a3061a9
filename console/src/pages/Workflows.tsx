import { useRef, useState } from "react";
import { streamChat, type StreamedCall } from "../api/chat";
import { useModels } from "../api/models";
import { ErrorBox } from "../components/ErrorBox";
import { estimateCost } from "../lib/cost";
import { formatUsd } from "../lib/decimal";
import { parseWorkflow, render, stepBody, validateWorkflow, type Workflow, type WorkflowStep } from "../lib/workflow";
import { useSession } from "../useSession";

// Saved in this browser (workflows hold no secrets); export and import as JSON files.
const STORE = "agentopia.workflows";

const EXAMPLE: Workflow = {
  name: "summarise then title",
  steps: [
    { name: "summary", model: "mock/echo", prompt: "Summarise in one sentence: {{input}}" },
    { name: "title", model: "mock/echo", prompt: "Write a title for: {{steps.1}}" },
  ],
};

interface StepRun {
  status: "waiting" | "running" | "done" | "failed";
  prompt?: string;
  call?: StreamedCall;
  cost?: number | null;
  error?: unknown;
}

function loadSaved(): Record<string, Workflow> {
  try {
    return JSON.parse(localStorage.getItem(STORE) ?? "{}") as Record<string, Workflow>;
  } catch {
    return {};
  }
}

export function Workflows() {
  const { key } = useSession();
  const models = useModels();
  const [workflow, setWorkflow] = useState<Workflow>(EXAMPLE);
  const [input, setInput] = useState("Gateways route each request to the best model, retry and fail over, and account every token.");
  const [runs, setRuns] = useState<StepRun[]>([]);
  const [saved, setSaved] = useState<Record<string, Workflow>>(loadSaved);
  const [problem, setProblem] = useState<unknown>(null);
  const [running, setRunning] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const problems = validateWorkflow(workflow);

  const setStep = (i: number, patch: Partial<WorkflowStep>) =>
    setWorkflow({ ...workflow, steps: workflow.steps.map((s, j) => (j === i ? { ...s, ...patch } : s)) });

  const run = async () => {
    setProblem(null);
    setRunning(true);
    const controller = new AbortController();
    abort.current = controller;
    const state: StepRun[] = workflow.steps.map(() => ({ status: "waiting" }));
    const show = () => setRuns([...state]);
    show();
    const outputs: string[] = [];
    try {
      for (const [i, step] of workflow.steps.entries()) {
        const prompt = render(step.prompt, input, outputs);
        state[i] = { status: "running", prompt };
        show();
        try {
          const done = await streamChat(key, stepBody(step, prompt), (c) => ((state[i] = { ...state[i]!, call: c }), show()), controller.signal);
          if (done.answer.error) throw new Error(`${done.answer.error.message} (${done.answer.error.code})`);
          const pricing = models.data?.find((m) => m.id === (done.route?.model || done.answer.model))?.pricing;
          state[i] = { ...state[i]!, status: "done", call: done, cost: estimateCost(pricing, done.answer.usage) };
          outputs.push(done.answer.content);
          show();
        } catch (e) {
          state[i] = { ...state[i]!, status: "failed", error: e };
          show();
          return;
        }
      }
    } catch (e) {
      setProblem(e);
    } finally {
      setRunning(false);
    }
  };

  const save = () => {
    const next = { ...saved, [workflow.name]: workflow };
    localStorage.setItem(STORE, JSON.stringify(next));
    setSaved(next);
  };
  const remove = (name: string) => {
    const { [name]: _, ...rest } = saved;
    localStorage.setItem(STORE, JSON.stringify(rest));
    setSaved(rest);
  };
  const exportJson = () => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([JSON.stringify(workflow, null, 2)], { type: "application/json" }));
    link.download = `${workflow.name.replace(/[^A-Za-z0-9_-]+/g, "-") || "workflow"}.json`;
    link.click();
    URL.revokeObjectURL(link.href);
  };
  const importJson = async (file: File | undefined) => {
    if (!file) return;
    try {
      setWorkflow(parseWorkflow(await file.text()));
      setRuns([]);
      setProblem(null);
    } catch (e) {
      setProblem(e);
    }
  };

  const done = runs.filter((r) => r.status === "done");
  const totalTokens = done.reduce((a, r) => a + (r.call?.answer.usage?.prompt_tokens ?? 0) + (r.call?.answer.usage?.completion_tokens ?? 0), 0);
  const totalCost = done.reduce((a, r) => a + (r.cost ?? 0), 0);
  const totalLatency = done.reduce((a, r) => a + (r.call?.latencyMs ?? 0), 0);
  const choices = ["auto", ...(models.data ?? []).map((m) => m.id)];

  return (
    <div className="grid2">
      <section className="card">
        <h2>Workflow</h2>
        <label>
          Name
          <input aria-label="Workflow name" value={workflow.name} onChange={(e) => setWorkflow({ ...workflow, name: e.target.value })} />
        </label>
        <p className="muted">
          Prompts may use <code>{"{{input}}"}</code>, <code>{"{{steps.1}}"}</code> (an earlier step's output) and <code>{"{{steps.1.json.field}}"}</code> (a field of its JSON
          output).
        </p>
        {workflow.steps.map((step, i) => (
          <fieldset key={i} data-testid="step-editor">
            <legend>
              Step {i + 1}: <input aria-label={`Step ${i + 1} name`} value={step.name} onChange={(e) => setStep(i, { name: e.target.value })} style={{ width: 160 }} />
            </legend>
            <div className="row">
              <label>
                Model
                <select aria-label={`Step ${i + 1} model`} value={step.model} onChange={(e) => setStep(i, { model: e.target.value })}>
                  {(choices.includes(step.model) ? choices : [step.model, ...choices]).map((id) => (
                    <option key={id}>{id}</option>
                  ))}
                </select>
              </label>
              <label className="check">
                <input type="checkbox" checked={step.json ?? false} onChange={(e) => setStep(i, { json: e.target.checked })} /> JSON output
              </label>
              <button className="link" onClick={() => setWorkflow({ ...workflow, steps: workflow.steps.filter((_, j) => j !== i) })}>
                Remove
              </button>
            </div>
            {step.model === "auto" ? (
              <label>
                Requirements (JSON, as for the playground's auto)
                <input
                  aria-label={`Step ${i + 1} requirements`}
                  defaultValue={JSON.stringify(step.requirements ?? {})}
                  onBlur={(e) => {
                    try {
                      setStep(i, { requirements: JSON.parse(e.target.value || "{}") });
                    } catch {
                      setProblem(new Error(`Step ${i + 1}'s requirements are not valid JSON.`));
                    }
                  }}
                />
              </label>
            ) : null}
            <label>
              Prompt
              <textarea aria-label={`Step ${i + 1} prompt`} rows={2} value={step.prompt} onChange={(e) => setStep(i, { prompt: e.target.value })} />
            </label>
          </fieldset>
        ))}
        <button className="link" onClick={() => setWorkflow({ ...workflow, steps: [...workflow.steps, { name: `step ${workflow.steps.length + 1}`, model: "mock/echo", prompt: "" }] })}>
          + step
        </button>
        <label>
          Input
          <textarea aria-label="Workflow input" rows={2} value={input} onChange={(e) => setInput(e.target.value)} />
        </label>
        {problems.map((p) => (
          <div key={p} className="error">
            {p}
          </div>
        ))}
        <ErrorBox error={problem} />
        <div className="row">
          <button onClick={run} disabled={running || problems.length > 0}>
            {running ? "Running…" : "Run"}
          </button>
          {running ? (
            <button className="secondary" onClick={() => abort.current?.abort()}>
              Stop
            </button>
          ) : null}
          <button className="secondary" onClick={save} disabled={!workflow.name.trim()}>
            Save
          </button>
          <button className="secondary" onClick={exportJson}>
            Export JSON
          </button>
          <label className="check">
            Import JSON <input aria-label="Import workflow" type="file" accept="application/json,.json" onChange={(e) => void importJson(e.target.files?.[0])} />
          </label>
        </div>
        {Object.keys(saved).length ? (
          <div>
            <h3>Saved in this browser</h3>
            <table data-testid="saved-workflows">
              <tbody>
                {Object.values(saved).map((w) => (
                  <tr key={w.name}>
                    <td>{w.name}</td>
                    <td className="muted">{w.steps.length} steps</td>
                    <td>
                      <button className="link" onClick={() => (setWorkflow(w), setRuns([]))}>
                        Open
                      </button>
                      <button className="link" onClick={() => remove(w.name)}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
      <section className="card">
        <h2>Run</h2>
        {runs.length === 0 ? <p className="muted">Run the workflow to see each step stream in with its routing decision, latency, tokens and cost.</p> : null}
        {runs.map((r, i) => (
          <div key={i} className="card" data-testid="step-run" data-status={r.status}>
            <h3>
              {i + 1}. {workflow.steps[i]?.name} <span className={`pill ${r.status === "done" ? "ok" : r.status === "failed" ? "bad" : "warn"}`}>{r.status}</span>
            </h3>
            {r.prompt ? <div className="muted">prompt: {r.prompt}</div> : null}
            <div className="answer" data-testid="step-output">
              {r.call?.answer.content}
            </div>
            {r.call?.route ? (
              <div className="muted" data-testid="step-route">
                {r.call.route.model} on {r.call.route.deployment} ({r.call.route.reason}; retries {r.call.route.retries}, failovers {r.call.route.failovers})
              </div>
            ) : null}
            {r.status === "done" && r.call ? (
              <div>
                {r.call.latencyMs?.toFixed(0)} ms · TTFT {r.call.ttftMs?.toFixed(0) ?? "—"} ms · {r.call.answer.usage?.prompt_tokens ?? 0} in / {r.call.answer.usage?.completion_tokens ?? 0} out ·{" "}
                {r.cost === null || r.cost === undefined ? "unpriced" : formatUsd(r.cost)}
              </div>
            ) : null}
            <ErrorBox error={r.error} />
          </div>
        ))}
        {done.length ? (
          <div className="notice" data-testid="workflow-total">
            Total: {done.length} of {runs.length} steps · {totalLatency.toFixed(0)} ms · {totalTokens} tokens · {formatUsd(totalCost)}
          </div>
        ) : null}
      </section>
    </div>
  );
}
