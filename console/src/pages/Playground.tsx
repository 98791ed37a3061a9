import { useMemo, useRef, useState } from "react";
import { call } from "../api/client";
import { useModels, type ModelEntry } from "../api/models";
import { ErrorBox } from "../components/ErrorBox";
import { emptyAnswer, foldChunk, fromCompletion, isFirstToken, type Answer } from "../lib/chat";
import { estimateCost } from "../lib/cost";
import { formatUsd } from "../lib/decimal";
import { parseExcluded, parseRoute, type Excluded, type RouteDecision } from "../lib/route";
import { readSse } from "../lib/sse";
import { useSession } from "../useSession";

interface Message {
  role: "user" | "assistant";
  content: string;
}

interface Requirements {
  capabilities: string[];
  min_context: string;
  max_input_price: string;
  max_output_price: string;
  prefer: "" | "cost" | "latency";
  providers: string;
}

interface Outcome {
  answer: Answer;
  route: RouteDecision | null;
  excluded: Excluded;
  requestId: string;
  latencyMs?: number;
  ttftMs?: number;
  cost: number | null;
  done: boolean;
}

const NO_REQUIREMENTS: Requirements = {
  capabilities: [],
  min_context: "",
  max_input_price: "",
  max_output_price: "",
  prefer: "",
  providers: "",
};

export function Playground() {
  const { key } = useSession();
  const models = useModels();
  const [model, setModel] = useState("");
  const [system, setSystem] = useState("");
  const [messages, setMessages] = useState<Message[]>([{ role: "user", content: "Hello! What can you do?" }]);
  const [stream, setStream] = useState(true);
  const [temperature, setTemperature] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [tools, setTools] = useState("");
  const [extra, setExtra] = useState("");
  const [req, setReq] = useState<Requirements>(NO_REQUIREMENTS);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);

  const list = models.data ?? [];
  const chosen = model || list.find((m) => m.id.startsWith("mock/"))?.id || list[0]?.id || "auto";
  const capabilities = useMemo(() => [...new Set(list.flatMap((m) => m.capabilities ?? []))].sort(), [list]);

  const body = buildBody({ model: chosen, system, messages, stream, temperature, maxTokens, tools, extra, req });

  const send = async () => {
    setError(null);
    setBusy(true);
    const controller = new AbortController();
    abort.current = controller;
    const started = performance.now();
    try {
      const response = await call(key, "/v1/chat/completions", { body: body.value, signal: controller.signal });
      const base: Outcome = {
        answer: emptyAnswer(),
        route: parseRoute(response.headers.get("x-agentopia-route")),
        excluded: parseExcluded(response.headers.get("x-agentopia-route-excluded")),
        requestId: response.headers.get("x-request-id") ?? "",
        cost: null,
        done: false,
      };
      let current = base;
      const priceOf = (id: string) => pricingFor(list, current.route?.model || id);
      if (stream && response.body) {
        setOutcome(current);
        for await (const event of readSse(response.body)) {
          if (event.data === "[DONE]") break;
          const chunk = JSON.parse(event.data);
          if (current.ttftMs === undefined && isFirstToken(chunk)) current = { ...current, ttftMs: performance.now() - started };
          current = { ...current, answer: foldChunk(current.answer, chunk) };
          setOutcome(current);
        }
      } else {
        current = { ...current, answer: fromCompletion(await response.json()) };
      }
      current = {
        ...current,
        latencyMs: performance.now() - started,
        cost: estimateCost(priceOf(current.answer.model), current.answer.usage),
        done: true,
      };
      setOutcome(current);
      if (current.answer.content) setMessages([...messages, { role: "assistant", content: current.answer.content }]);
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "AbortError")) setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="grid2">
      <section className="card">
        <h2>Request</h2>
        <label>
          Model
          <select aria-label="Model" value={chosen} onChange={(e) => setModel(e.target.value)}>
            <option value="auto">auto — the router chooses by requirements</option>
            {list.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id} {m.provider === "alias" ? "(alias)" : m.provider ? `· ${m.provider}` : ""}
              </option>
            ))}
          </select>
        </label>
        {models.error ? <ErrorBox error={models.error} /> : null}
        {chosen === "auto" ? <RequirementsForm value={req} capabilities={capabilities} onChange={setReq} /> : null}
        <label>
          System prompt
          <textarea aria-label="System prompt" rows={2} value={system} onChange={(e) => setSystem(e.target.value)} />
        </label>
        {messages.map((m, i) => (
          <div className="message" key={i}>
            <select
              aria-label={`Role ${i + 1}`}
              value={m.role}
              onChange={(e) => setMessages(messages.map((x, j) => (j === i ? { ...x, role: e.target.value as Message["role"] } : x)))}
            >
              <option value="user">user</option>
              <option value="assistant">assistant</option>
            </select>
            <textarea
              aria-label={`Message ${i + 1}`}
              rows={2}
              value={m.content}
              onChange={(e) => setMessages(messages.map((x, j) => (j === i ? { ...x, content: e.target.value } : x)))}
            />
            <button className="link" onClick={() => setMessages(messages.filter((_, j) => j !== i))} aria-label={`Remove message ${i + 1}`}>
              ✕
            </button>
          </div>
        ))}
        <button className="link" onClick={() => setMessages([...messages, { role: "user", content: "" }])}>
          + message
        </button>
        <div className="row">
          <label>
            Temperature
            <input aria-label="Temperature" value={temperature} onChange={(e) => setTemperature(e.target.value)} placeholder="default" />
          </label>
          <label>
            Max tokens
            <input aria-label="Max tokens" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} placeholder="default" />
          </label>
          <label className="check">
            <input type="checkbox" checked={stream} onChange={(e) => setStream(e.target.checked)} /> Stream
          </label>
        </div>
        <label>
          Tools (JSON array of OpenAI function tools)
          <textarea aria-label="Tools" rows={2} value={tools} onChange={(e) => setTools(e.target.value)} placeholder='[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]' />
        </label>
        <label>
          Extra body fields (JSON object merged into the request: other OpenAI parameters, provider extensions)
          <textarea aria-label="Extra body" rows={2} value={extra} onChange={(e) => setExtra(e.target.value)} placeholder='{"top_p": 0.9}' />
        </label>
        {body.problem ? <div className="error">{body.problem}</div> : null}
        <div className="row">
          <button onClick={send} disabled={busy || body.problem !== null}>
            {busy ? "Sending…" : "Send"}
          </button>
          {busy ? (
            <button className="secondary" onClick={() => abort.current?.abort()}>
              Stop
            </button>
          ) : null}
        </div>
        <details>
          <summary>The request as sent</summary>
          <pre data-testid="request-json">{JSON.stringify(body.value, null, 2)}</pre>
        </details>
      </section>
      <section className="card">
        <h2>Response</h2>
        <ErrorBox error={error} />
        {outcome ? <OutcomeView outcome={outcome} /> : <p className="muted">Send a request to see the answer, then how it was routed.</p>}
      </section>
    </div>
  );
}

function pricingFor(list: ModelEntry[], id: string) {
  return list.find((m) => m.id === id)?.pricing;
}

interface BodyInput {
  model: string;
  system: string;
  messages: Message[];
  stream: boolean;
  temperature: string;
  maxTokens: string;
  tools: string;
  extra: string;
  req: Requirements;
}

function buildBody(input: BodyInput): { value: Record<string, unknown>; problem: string | null } {
  const value: Record<string, unknown> = { model: input.model };
  const messages: { role: string; content: string }[] = [];
  if (input.system.trim()) messages.push({ role: "system", content: input.system });
  messages.push(...input.messages.filter((m) => m.content.trim() !== ""));
  value.messages = messages;
  let problem: string | null = messages.length === 0 ? "Write at least one message." : null;
  if (input.stream) {
    value.stream = true;
    value.stream_options = { include_usage: true };
  }
  if (input.temperature.trim()) {
    const t = Number(input.temperature);
    if (Number.isNaN(t)) problem = "Temperature must be a number.";
    value.temperature = t;
  }
  if (input.maxTokens.trim()) {
    const n = Number(input.maxTokens);
    if (!Number.isInteger(n) || n <= 0) problem = "Max tokens must be a positive whole number.";
    value.max_tokens = n;
  }
  if (input.tools.trim()) {
    try {
      const parsed = JSON.parse(input.tools);
      if (!Array.isArray(parsed)) problem = "Tools must be a JSON array.";
      value.tools = parsed;
    } catch {
      problem = "Tools is not valid JSON.";
    }
  }
  if (input.extra.trim()) {
    try {
      const parsed: unknown = JSON.parse(input.extra);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) problem = "Extra body fields must be a JSON object.";
      else Object.assign(value, parsed);
    } catch {
      problem = "Extra body fields are not valid JSON.";
    }
  }
  if (input.model === "auto") {
    const r = input.req;
    const requirements: Record<string, unknown> = {};
    if (r.capabilities.length) requirements.capabilities = r.capabilities;
    for (const field of ["min_context", "max_input_price", "max_output_price"] as const) {
      if (r[field].trim()) requirements[field] = Number(r[field]);
    }
    if (r.prefer) requirements.prefer = r.prefer;
    const providers = r.providers.split(",").map((p) => p.trim()).filter(Boolean);
    if (providers.length) requirements.providers = providers;
    if (Object.keys(requirements).length) value.agentopia = { requirements };
  }
  return { value, problem };
}

function RequirementsForm({
  value,
  capabilities,
  onChange,
}: {
  value: Requirements;
  capabilities: string[];
  onChange: (r: Requirements) => void;
}) {
  const set = (patch: Partial<Requirements>) => onChange({ ...value, ...patch });
  return (
    <fieldset>
      <legend>Requirements for auto</legend>
      <div className="chips">
        {capabilities.map((c) => (
          <label key={c} className="check">
            <input
              type="checkbox"
              checked={value.capabilities.includes(c)}
              onChange={(e) =>
                set({ capabilities: e.target.checked ? [...value.capabilities, c] : value.capabilities.filter((x) => x !== c) })
              }
            />
            {c}
          </label>
        ))}
      </div>
      <div className="row">
        <label>
          Min context
          <input aria-label="Min context" value={value.min_context} onChange={(e) => set({ min_context: e.target.value })} />
        </label>
        <label>
          Max input $/M
          <input aria-label="Max input price" value={value.max_input_price} onChange={(e) => set({ max_input_price: e.target.value })} />
        </label>
        <label>
          Max output $/M
          <input aria-label="Max output price" value={value.max_output_price} onChange={(e) => set({ max_output_price: e.target.value })} />
        </label>
        <label>
          Prefer
          <select aria-label="Prefer" value={value.prefer} onChange={(e) => set({ prefer: e.target.value as Requirements["prefer"] })}>
            <option value="">(cost)</option>
            <option value="cost">cost</option>
            <option value="latency">latency</option>
          </select>
        </label>
      </div>
      <label>
        Providers (comma-separated; empty = any)
        <input aria-label="Providers" value={value.providers} onChange={(e) => set({ providers: e.target.value })} />
      </label>
    </fieldset>
  );
}

function OutcomeView({ outcome }: { outcome: Outcome }) {
  const { answer, route, excluded } = outcome;
  const usage = answer.usage;
  return (
    <div data-testid="outcome" data-done={outcome.done ? "true" : "false"}>
      <div className="answer">
        <span data-testid="answer">{answer.content}</span>
        {!outcome.done ? <span className="cursor">▍</span> : null}
      </div>
      {answer.toolCalls.map((t) => (
        <pre key={t.id || t.name} className="tool">
          tool call {t.name}({t.arguments})
        </pre>
      ))}
      {answer.error ? (
        <div className="error">
          {answer.error.message} <code>{answer.error.code}</code>
        </div>
      ) : null}
      {outcome.done ? (
        <dl className="facts" data-testid="facts">
          <dt>Latency</dt>
          <dd data-testid="latency">{outcome.latencyMs?.toFixed(0)} ms</dd>
          <dt>Time to first token</dt>
          <dd data-testid="ttft">{outcome.ttftMs !== undefined ? `${outcome.ttftMs.toFixed(0)} ms` : "— (not streamed)"}</dd>
          <dt>Tokens</dt>
          <dd data-testid="tokens">
            {usage ? `${usage.prompt_tokens ?? 0} in · ${usage.completion_tokens ?? 0} out` : "not reported"}
          </dd>
          <dt>Cost (list price)</dt>
          <dd data-testid="cost">{outcome.cost === null ? "unpriced" : formatUsd(outcome.cost)}</dd>
          <dt>Finish</dt>
          <dd>{answer.finishReason || "—"}</dd>
          <dt>Request id</dt>
          <dd>
            <code>{outcome.requestId}</code>
          </dd>
        </dl>
      ) : null}
      {route ? (
        <div className="route" data-testid="route">
          <h3>Routing decision</h3>
          <p>
            Served by <b data-testid="route-model">{route.model}</b> on deployment <b>{route.deployment}</b> ({route.reason}
            {route.registry ? `, registry v${route.registry}` : ""}).
          </p>
          <p className="why">{route.why}</p>
          <p>
            Retries <b>{route.retries}</b> · failovers <b data-testid="failovers">{route.failovers}</b>
          </p>
          {excluded.items.length ? (
            <table>
              <thead>
                <tr>
                  <th>Excluded candidate</th>
                  <th>Requirement it failed</th>
                </tr>
              </thead>
              <tbody>
                {excluded.items.map((e) => (
                  <tr key={e.model}>
                    <td>{e.model}</td>
                    <td>{e.requirement}</td>
                  </tr>
                ))}
                {excluded.more ? (
                  <tr>
                    <td colSpan={2}>and {excluded.more} more</td>
                  </tr>
                ) : null}
              </tbody>
            </table>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
