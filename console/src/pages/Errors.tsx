import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { getJson } from "../api/client";
import { BUCKETS, n, type LatencyRow } from "../api/reports";
import { Chart } from "../components/Chart";
import { ErrorBox } from "../components/ErrorBox";
import { flattenErrors, groupErrors, type ErrorDimension, type ReportRow } from "../lib/errors";
import { useSession } from "../useSession";

const RANGES: Record<string, { seconds: number; bucket: keyof typeof BUCKETS }> = {
  "last hour": { seconds: 3600, bucket: "minute" },
  "last 24 hours": { seconds: 86400, bucket: "hour" },
  "last 7 days": { seconds: 7 * 86400, bucket: "day" },
};
const GROUPINGS: Record<string, ErrorDimension[]> = {
  "code, provider and model": ["code", "provider", "model"],
  code: ["code"],
  provider: ["provider"],
  model: ["model"],
};

type Row = LatencyRow & ReportRow;

export function Errors() {
  const { key } = useSession();
  const [range, setRange] = useState("last hour");
  const [grouping, setGrouping] = useState("code, provider and model");
  const [anchor, setAnchor] = useState(() => Date.now());
  const spec = RANGES[range]!;
  const query = { start_time: new Date(anchor - spec.seconds * 1000).toISOString(), end_time: new Date(anchor).toISOString() };

  const report = useQuery({
    queryKey: ["errors", key, query],
    queryFn: () => getJson<{ rows?: Row[]; next_page_token?: string }>(key, "/agentopia/v1/latency:report", { query: { ...query, page_size: 1000 } }),
    refetchInterval: 10_000,
  });
  const buckets = useQuery({
    queryKey: ["errors-buckets", key, query, spec.bucket],
    queryFn: () =>
      getJson<{ rows?: Row[] }>(key, "/agentopia/v1/latency:report", { query: { ...query, time_bucket: BUCKETS[spec.bucket], page_size: 1000 } }),
    refetchInterval: 10_000,
  });

  const rows = report.data?.rows ?? [];
  const groups = useMemo(() => groupErrors(flattenErrors(rows), GROUPINGS[grouping]!), [rows, grouping]);
  const failing = rows.filter((r) => n(r.errors) > 0).sort((a, b) => b.error_rate - a.error_rate);
  const chart = useMemo(() => {
    const perBucket = new Map<number, [number, number]>();
    for (const r of buckets.data?.rows ?? []) {
      const t = Date.parse(r.bucket_start_time ?? "") / 1000;
      const [req, err] = perBucket.get(t) ?? [0, 0];
      perBucket.set(t, [req + n(r.requests), err + n(r.errors)]);
    }
    const ts = [...perBucket.keys()].sort((a, b) => a - b);
    // Requests first, so the errors' bars are drawn over them.
    return [ts, ts.map((t) => perBucket.get(t)![0]), ts.map((t) => perBucket.get(t)![1])] as [number[], number[], number[]];
  }, [buckets.data]);
  const dims = GROUPINGS[grouping]!;

  return (
    <div>
      <section className="card">
        <div className="row">
          <label>
            Range
            <select aria-label="Range" value={range} onChange={(e) => (setRange(e.target.value), setAnchor(Date.now()))}>
              {Object.keys(RANGES).map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <label>
            Group by
            <select aria-label="Group errors by" value={grouping} onChange={(e) => setGrouping(e.target.value)}>
              {Object.keys(GROUPINGS).map((g) => (
                <option key={g}>{g}</option>
              ))}
            </select>
          </label>
          <button className="secondary" onClick={() => setAnchor(Date.now())}>
            Refresh
          </button>
        </div>
        <p className="muted">
          Failed requests as the client saw them (after retries and failovers), counted by stable error code. A client finds its own failure by the{" "}
          <code>x-request-id</code> header of the response, which every service logs.
        </p>
      </section>
      <ErrorBox error={report.error ?? buckets.error} />
      <Chart
        title={`Requests and errors per ${spec.bucket}`}
        data={chart}
        bars
        xRange={[Date.parse(query.start_time) / 1000, Date.parse(query.end_time) / 1000]}
        series={[
          { label: "requests", stroke: "#94a3b8" },
          { label: "errors", stroke: "#dc2626" },
        ]}
      />
      <div className="grid2">
        <section className="card">
          <h3>Errors by {grouping}</h3>
          {groups.length === 0 && report.isSuccess ? <p className="muted">No failed requests in this range.</p> : null}
          <table data-testid="error-groups">
            <thead>
              <tr>
                {dims.map((d) => (
                  <th key={d}>{d}</th>
                ))}
                <th className="num">Failures</th>
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => (
                <tr key={JSON.stringify(g.key)}>
                  {dims.map((d) => (
                    <td key={d}>{d === "code" ? <code>{g.key[d]}</code> : g.key[d]}</td>
                  ))}
                  <td className="num">{g.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card">
          <h3>Error rate by model</h3>
          <table data-testid="error-rates">
            <thead>
              <tr>
                <th>Provider</th>
                <th>Model</th>
                <th className="num">Requests</th>
                <th className="num">Errors</th>
                <th className="num">Rate</th>
              </tr>
            </thead>
            <tbody>
              {failing.map((r) => (
                <tr key={`${r.provider}/${r.model}`}>
                  <td>{r.provider}</td>
                  <td>{r.model}</td>
                  <td className="num">{n(r.requests)}</td>
                  <td className="num">{n(r.errors)}</td>
                  <td className="num">{(r.error_rate * 100).toFixed(1)}%</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </div>
  );
}
