import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { call, getJson } from "../api/client";
import { ApiError } from "../api/errors";
import { useModels } from "../api/models";
import { Chart } from "../components/Chart";
import { ErrorBox } from "../components/ErrorBox";
import { Tile } from "../components/Tile";
import { parseRoute } from "../lib/route";
import { CIRCUIT_LEVEL, bySecond, noteState, successRate, type Outcome, type Transition } from "../lib/timeline";
import { useSession } from "../useSession";

// Faults the mock provider injects when a request's `mock.by_model` names the
// upstream model (services/provider/adapters/mock): per request, so turning a
// fault on or off takes effect with the next request, with no restart.
const FAULTS: Record<string, Record<string, unknown>> = {
  "fail (503)": { fault_status: 503, fault_rate: 1 },
  "fail (500)": { fault_status: 500, fault_rate: 1 },
  "rate limit (429, Retry-After 1 s)": { fault_status: 429, fault_rate: 1, retry_after_s: 1 },
  "slow (1.5 s to first byte)": { latency_ms: 1500, fault_status: 0 },
};
const HEALTHY = { fault_status: 0, latency_ms: 0 };
const MAX_IN_FLIGHT = 8;

interface Deployment {
  deployment_id: string;
  model: string;
  provider: string;
  circuit: string;
  window_successes: number;
  window_failures: number;
}

export function Failover() {
  const { key } = useSession();
  const models = useModels();
  const deployments = useQuery({
    queryKey: ["deployments-failover", key],
    queryFn: () => getJson<{ deployments?: Deployment[] }>(key, "/agentopia/v1/routing/deployments"),
    refetchInterval: 1000,
  });
  const mockDeployments = (deployments.data?.deployments ?? []).filter((d) => d.provider === "mock");
  const aliases = (models.data ?? []).filter((m) => m.provider === "alias" || m.provider === "mock");
  const [target, setTarget] = useState("mock/flaky");
  const [send, setSend] = useState("demo-failover");
  const [fault, setFault] = useState(Object.keys(FAULTS)[0]!);
  const [faulting, setFaulting] = useState(false);
  const [rate, setRate] = useState("5");
  const [running, setRunning] = useState(false);
  const [outcomes, setOutcomes] = useState<Outcome[]>([]);
  const [transitions, setTransitions] = useState<Transition[]>([]);
  const [circuitLog, setCircuitLog] = useState<[number, number][]>([]);
  const [lastError, setLastError] = useState<unknown>(null);

  const targetDeployment = mockDeployments.find((d) => d.deployment_id === target);
  const upstream = (models.data ?? []).find((m) => m.id === targetDeployment?.model)?.upstream_model ?? targetDeployment?.model.replace(/^mock\//, "");

  // The circuit state of the faulted deployment, every poll.
  useEffect(() => {
    if (!targetDeployment) return;
    const now = Date.now();
    setTransitions((log) => noteState(log, now, targetDeployment.circuit));
    setCircuitLog((log) => [...log.slice(-600), [now / 1000, CIRCUIT_LEVEL[targetDeployment.circuit] ?? 0]]);
  }, [deployments.dataUpdatedAt, targetDeployment?.circuit, target]); // eslint-disable-line react-hooks/exhaustive-deps

  // The traffic: `rate` requests a second while running, at most MAX_IN_FLIGHT at once.
  const settings = useRef({ send, upstream, faulting, fault });
  settings.current = { send, upstream, faulting, fault };
  useEffect(() => {
    if (!running) return;
    let inFlight = 0;
    let sent = 0;
    const timer = setInterval(
      () => {
        if (inFlight >= MAX_IN_FLIGHT) return;
        inFlight++;
        const s = settings.current;
        const at = Date.now();
        const body = {
          model: s.send,
          messages: [{ role: "user", content: `failover drill ${sent++}` }],
          max_tokens: 16,
          mock: { by_model: { [s.upstream ?? ""]: s.faulting ? FAULTS[s.fault] : HEALTHY } },
        };
        void call(key, "/v1/chat/completions", { body })
          .then(async (response) => {
            await response.arrayBuffer();
            const route = parseRoute(response.headers.get("x-agentopia-route"));
            return { at, ok: true, status: response.status, retries: route?.retries ?? 0, failovers: route?.failovers ?? 0, servedBy: route?.deployment ?? "", latencyMs: Date.now() - at };
          })
          .catch((e: unknown) => {
            setLastError(e);
            return { at, ok: false, status: e instanceof ApiError ? e.status : 0, retries: 0, failovers: 0, servedBy: "", latencyMs: Date.now() - at };
          })
          .then((outcome) => {
            inFlight--;
            setOutcomes((all) => [...all.slice(-2000), outcome]);
          });
      },
      1000 / Math.max(0.2, Math.min(50, Number(rate) || 5)),
    );
    return () => clearInterval(timer);
  }, [running, rate, key]);

  const seconds = useMemo(() => bySecond(outcomes), [outcomes]);
  const trafficData = useMemo(
    () => [seconds.map((s) => s.t), seconds.map((s) => s.ok), seconds.map((s) => s.failed), seconds.map((s) => s.failovers)] as [number[], number[], number[], number[]],
    [seconds],
  );
  const circuitData = useMemo(() => [circuitLog.map((p) => p[0]), circuitLog.map((p) => p[1])] as [number[], number[]], [circuitLog]);
  const rateSeen = successRate(outcomes);
  const failovers = outcomes.reduce((a, o) => a + o.failovers, 0);
  const retries = outcomes.reduce((a, o) => a + o.retries, 0);
  const servedBy = outcomes.slice(-20).reduce<Record<string, number>>((acc, o) => ((acc[o.servedBy || "(failed)"] = (acc[o.servedBy || "(failed)"] ?? 0) + 1), acc), {});

  if (deployments.isSuccess && mockDeployments.length === 0) {
    return <div className="card">Failover drills use the built-in mock provider, which runs only with AGENTOPIA_DEMO=true (as under make run).</div>;
  }
  return (
    <div>
      <section className="card">
        <p className="muted">
          Faults are injected by the mock provider per request (<code>mock.by_model</code> in the body names the upstream model), so a fault starts and stops with the next
          request — no restart. Send traffic to an alias whose chain starts with the faulted deployment and watch retries, failover, the circuit opening, half-open probes
          and recovery.
        </p>
        <div className="row">
          <label>
            Send to
            <select aria-label="Send to" value={send} onChange={(e) => setSend(e.target.value)}>
              {aliases.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id}
                </option>
              ))}
            </select>
          </label>
          <label>
            Deployment to fault
            <select aria-label="Deployment to fault" value={target} onChange={(e) => {
                if (e.target.value === target) return;
                setTarget(e.target.value);
                setTransitions([]);
                setCircuitLog([]);
              }}>
              {mockDeployments.map((d) => (
                <option key={d.deployment_id} value={d.deployment_id}>
                  {d.deployment_id} ({d.model})
                </option>
              ))}
            </select>
          </label>
          <label>
            Fault
            <select aria-label="Fault" value={fault} onChange={(e) => setFault(e.target.value)}>
              {Object.keys(FAULTS).map((f) => (
                <option key={f}>{f}</option>
              ))}
            </select>
          </label>
          <label>
            Requests/s
            <input aria-label="Requests per second" value={rate} onChange={(e) => setRate(e.target.value)} />
          </label>
        </div>
        <div className="row">
          <button onClick={() => setRunning(!running)}>{running ? "Stop traffic" : "Start traffic"}</button>
          <button className={faulting ? "secondary" : "danger"} onClick={() => setFaulting(!faulting)}>
            {faulting ? "Heal the deployment" : "Inject the fault"}
          </button>
          <button className="link" onClick={() => (setOutcomes([]), setTransitions([]), setCircuitLog([]), setLastError(null))}>
            Clear
          </button>
          <span data-testid="fault-state" className={`pill ${faulting ? "bad" : "ok"}`}>
            {faulting ? `faulting: ${fault}` : "healthy"}
          </span>
        </div>
      </section>
      <div className="tiles">
        <Tile label="Requests sent" value={String(outcomes.length)} testid="sent" />
        <Tile label="Success rate the client saw" value={rateSeen === null ? "—" : `${(rateSeen * 100).toFixed(1)}%`} testid="success" />
        <Tile label="Failovers" value={String(failovers)} testid="failovers" />
        <Tile label="Retries" value={String(retries)} testid="retries" />
        <Tile label={`Circuit of ${target}`} value={targetDeployment?.circuit ?? "—"} testid="circuit" />
        <Tile label="Served by (last 20)" value={Object.entries(servedBy).map(([d, c]) => `${d} ${c}`).join(", ") || "—"} testid="served" />
      </div>
      <ErrorBox error={deployments.error} />
      {lastError ? (
        <div>
          <span className="muted">Last failure the client saw:</span> <ErrorBox error={lastError} />
        </div>
      ) : null}
      <div className="grid2">
        <Chart
          title="Client outcomes per second"
          data={trafficData}
          series={[
            { label: "succeeded", stroke: "#16a34a" },
            { label: "failed", stroke: "#dc2626" },
            { label: "failovers", stroke: "#ca8a04" },
          ]}
        />
        <Chart title="Circuit (0 closed, 1 half-open, 2 open)" data={circuitData} series={[{ label: target, stroke: "#7c3aed" }]} />
      </div>
      <section className="card">
        <h3>Circuit transitions of {target}</h3>
        <table data-testid="transitions">
          <tbody>
            {transitions.map((t, i) => (
              <tr key={i}>
                <td>{new Date(t.at).toISOString().slice(11, 19)}</td>
                <td data-testid="transition">{t.from ? `${t.from} → ${t.to}` : t.to}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
