import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { getJson } from "../api/client";
import { useLiveStream } from "../api/live";
import { n, type LatencyRow } from "../api/reports";
import { Chart } from "../components/Chart";
import { ErrorBox } from "../components/ErrorBox";
import { Tile } from "../components/Tile";
import { formatUsd } from "../lib/decimal";
import { useSession } from "../useSession";

const WINDOW_S = 10;

export function LiveMonitor() {
  const { key } = useSession();
  const live = useLiveStream(key);
  const w = live.window;
  const s = w.summary(WINDOW_S);
  const latest = w.latest();

  const throughput = useMemo(() => w.series((f) => f.requests, (f) => f.errors), [w, live.tick]);
  const latency = useMemo(
    () => w.series((f) => f.latency_p50_ms, (f) => f.latency_p95_ms, (f) => f.latency_p99_ms, (f) => f.time_to_first_token_p50_ms, (f) => f.overhead_p50_ms),
    [w, live.tick],
  );
  const tokens = useMemo(() => w.series((f) => f.prompt_tokens + f.completion_tokens), [w, live.tick]);

  return (
    <div>
      <div className="status-line">
        <span className={live.connected ? "dot ok" : "dot bad"} /> {live.connected ? "Live: one frame a second" : "Connecting…"}
        <span className="muted"> · {w.frames.length} s of history · rates over the last {s.seconds} s</span>
      </div>
      <ErrorBox error={live.error} />
      <div className="tiles">
        <Tile label="Requests/s" value={s.requestsPerSecond.toFixed(2)} testid="rps" />
        <Tile label="Error rate" value={`${(s.errorRate * 100).toFixed(1)}%`} testid="error-rate" />
        <Tile label="p50 / p95 / p99" value={latest ? `${ms(latest.latency_p50_ms)} / ${ms(latest.latency_p95_ms)} / ${ms(latest.latency_p99_ms)}` : "—"} testid="latency" />
        <Tile label="TTFT p50" value={latest ? ms(latest.time_to_first_token_p50_ms) : "—"} testid="ttft" />
        <Tile label="Gateway overhead p50" value={latest ? ms(latest.overhead_p50_ms) : "—"} testid="overhead" />
        <Tile label="Tokens/s" value={s.tokensPerSecond.toFixed(1)} testid="tps" />
        <Tile label="Spend/s" value={formatUsd(s.spendPerSecond)} testid="spend" />
        <Tile label={`Retries · failovers (${s.seconds} s)`} value={`${s.retries} · ${s.failovers}`} testid="retries" />
      </div>
      <div className="grid2">
        <Chart title="Requests and errors per second" data={throughput} series={[{ label: "requests", stroke: "#2563eb" }, { label: "errors", stroke: "#dc2626" }]} />
        <Chart
          title="Latency (ms)"
          data={latency}
          series={[
            { label: "p50", stroke: "#16a34a" },
            { label: "p95", stroke: "#ca8a04" },
            { label: "p99", stroke: "#dc2626" },
            { label: "TTFT p50", stroke: "#7c3aed" },
            { label: "overhead p50", stroke: "#64748b" },
          ]}
        />
        <Chart title="Tokens per second" data={tokens} series={[{ label: "tokens", stroke: "#0891b2" }]} />
        <PerModel />
      </div>
      <div className="grid2">
        <section className="card">
          <h3>Deployment circuits</h3>
          <table data-testid="circuits">
            <thead>
              <tr>
                <th>Deployment</th>
                <th>Model</th>
                <th>Provider</th>
                <th>Circuit</th>
              </tr>
            </thead>
            <tbody>
              {(latest?.circuits ?? []).map((c) => (
                <tr key={c.deployment_id}>
                  <td>{c.deployment_id}</td>
                  <td>{c.model}</td>
                  <td>{c.provider}</td>
                  <td>
                    <span className={`pill ${circuitClass(c.state)}`}>{c.state.replace("CIRCUIT_STATE_", "").toLowerCase()}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card">
          <h3>Provider keys</h3>
          {latest && latest.keys.length === 0 ? <p className="muted">No provider keys leased (the mock needs none).</p> : null}
          <table>
            <tbody>
              {(latest?.keys ?? []).map((k) => (
                <tr key={k.key_id}>
                  <td>{k.provider}</td>
                  <td>{k.key_id}</td>
                  <td>
                    <span className={`pill ${k.health.endsWith("HEALTHY") ? "ok" : "bad"}`}>{k.health.replace("KEY_HEALTH_", "").toLowerCase()}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </div>
  );
}

function ms(v: number): string {
  return `${v.toFixed(v < 10 ? 1 : 0)} ms`;
}

function circuitClass(state: string): string {
  if (state.endsWith("OPEN") && !state.endsWith("HALF_OPEN")) return "bad";
  if (state.endsWith("HALF_OPEN")) return "warn";
  return "ok";
}


/** The live stream is replica-wide; per model and provider come from the
 * latency report over the last five minutes, refreshed every 5 s. */
function PerModel() {
  const { key } = useSession();
  const report = useQuery({
    queryKey: ["latency-live", key],
    queryFn: () =>
      getJson<{ rows: LatencyRow[] }>(key, "/agentopia/v1/latency:report", {
        query: { start_time: new Date(Date.now() - 5 * 60_000).toISOString(), page_size: 200 },
      }),
    refetchInterval: 5000,
  });
  return (
    <section className="card">
      <h3>Per model and provider (last 5 min)</h3>
      <ErrorBox error={report.error} />
      <table data-testid="per-model">
        <thead>
          <tr>
            <th>Provider</th>
            <th>Model</th>
            <th>Requests</th>
            <th>Errors</th>
            <th>p50</th>
            <th>p95</th>
            <th>TTFT p50</th>
            <th>Overhead p50</th>
          </tr>
        </thead>
        <tbody>
          {(report.data?.rows ?? []).map((r) => (
            <tr key={`${r.provider}/${r.model}`}>
              <td>{r.provider}</td>
              <td>{r.model}</td>
              <td>{n(r.requests)}</td>
              <td>{(r.error_rate * 100).toFixed(1)}%</td>
              <td>{ms(r.latency_p50_ms)}</td>
              <td>{ms(r.latency_p95_ms)}</td>
              <td>{ms(r.time_to_first_token_p50_ms)}</td>
              <td>{ms(r.overhead_p50_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
