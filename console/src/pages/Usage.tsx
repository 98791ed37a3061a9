import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { call, getJson, type Query } from "../api/client";
import { BUCKETS, GROUPS, n, type UsageRow } from "../api/reports";
import { Chart } from "../components/Chart";
import { ErrorBox } from "../components/ErrorBox";
import { Tile } from "../components/Tile";
import { formatUsd } from "../lib/decimal";
import { TokenPager } from "../lib/paging";
import { useSession } from "../useSession";

type Group = keyof typeof GROUPS;
type Bucket = keyof typeof BUCKETS;
type Filter = "key_id" | "team" | "model" | "provider";

const RANGES: Record<string, number> = { "last hour": 3600, "last 24 hours": 86400, "last 7 days": 7 * 86400, "last 30 days": 30 * 86400 };
const FILTER_OF: Record<Group, Filter | null> = { model: "model", provider: "provider", key: "key_id", team: "team", total: null };
// Where a click on a row leads: one level finer.
const DRILL: Record<Group, Group> = { provider: "model", model: "key", key: "model", team: "key", total: "model" };
const PAGE_SIZE = 50;

export function Usage() {
  const { key } = useSession();
  const [range, setRange] = useState("last 24 hours");
  const [anchor, setAnchor] = useState(() => Date.now());
  const [group, setGroup] = useState<Group>("model");
  const [bucket, setBucket] = useState<Bucket>("none");
  const [filters, setFilters] = useState<Partial<Record<Filter, string>>>({});
  const [pager] = useState(() => new TokenPager());
  const [pageToken, setPageToken] = useState("");
  const [exportError, setExportError] = useState<unknown>(null);

  // The range is fixed when chosen (Refresh moves it to now), so pages of one
  // listing come from one query.
  const base = useMemo<Query>(
    () => ({
      start_time: new Date(anchor - (RANGES[range] ?? 86400) * 1000).toISOString(),
      end_time: new Date(anchor).toISOString(),
      ...filters,
    }),
    [anchor, range, filters],
  );
  const listing: Query = { ...base, group_by: GROUPS[group], time_bucket: BUCKETS[bucket] };
  const restart = () => {
    pager.reset();
    setPageToken("");
  };

  const rows = useQuery({
    queryKey: ["usage", key, listing, pageToken],
    queryFn: () =>
      getJson<{ rows?: UsageRow[]; next_page_token?: string }>(key, "/agentopia/v1/usage:summary", {
        query: { ...listing, page_size: PAGE_SIZE, page_token: pageToken },
      }),
    placeholderData: keepPreviousData,
  });
  const totals = useQuery({
    queryKey: ["usage-total", key, base],
    queryFn: () => getJson<{ rows?: UsageRow[] }>(key, "/agentopia/v1/usage:summary", { query: base }),
  });
  const chartBucket: Bucket = bucket === "none" ? (RANGES[range]! <= 3600 ? "minute" : RANGES[range]! <= 86400 ? "hour" : "day") : bucket;
  const series = useQuery({
    queryKey: ["usage-series", key, base, chartBucket],
    queryFn: () =>
      getJson<{ rows?: UsageRow[] }>(key, "/agentopia/v1/usage:summary", {
        query: { ...base, time_bucket: BUCKETS[chartBucket], page_size: 1000 },
      }),
  });

  const total = totals.data?.rows?.[0];
  const chartData = useMemo(() => {
    const points = series.data?.rows ?? [];
    return [
      points.map((r) => Date.parse(r.bucket_start_time ?? "") / 1000),
      points.map((r) => n(r.requests)),
      points.map((r) => Number(r.cost_usd || 0) * 1000),
    ] as [number[], number[], number[]];
  }, [series.data]);

  const drill = (row: UsageRow) => {
    const filter = FILTER_OF[group];
    if (!filter) return;
    setFilters({ ...filters, [filter]: row.group });
    setGroup(DRILL[group]);
    restart();
  };

  const exportCsv = async () => {
    setExportError(null);
    try {
      const response = await call(key, "/agentopia/v1/usage:export", { query: listing });
      const blob = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `agentopia-usage-${group}.csv`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (e) {
      setExportError(e);
    }
  };

  return (
    <div>
      <section className="card">
        <div className="row">
          <label>
            Range
            <select aria-label="Range" value={range} onChange={(e) => (setRange(e.target.value), setAnchor(Date.now()), restart())}>
              {Object.keys(RANGES).map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <label>
            Group by
            <select aria-label="Group by" value={group} onChange={(e) => (setGroup(e.target.value as Group), restart())}>
              {Object.keys(GROUPS).map((g) => (
                <option key={g}>{g}</option>
              ))}
            </select>
          </label>
          <label>
            Time bucket
            <select aria-label="Time bucket" value={bucket} onChange={(e) => (setBucket(e.target.value as Bucket), restart())}>
              {Object.keys(BUCKETS).map((b) => (
                <option key={b}>{b}</option>
              ))}
            </select>
          </label>
          <button className="secondary" onClick={() => (setAnchor(Date.now()), restart())}>
            Refresh
          </button>
          <button onClick={exportCsv}>Export CSV</button>
        </div>
        <div className="row">
          {Object.entries(filters).map(([f, v]) => (
            <span key={f} className="pill warn" data-testid="filter">
              {f} = {v}{" "}
              <button
                className="link"
                aria-label={`Clear ${f}`}
                onClick={() => {
                  const { [f as Filter]: _, ...rest } = filters;
                  setFilters(rest);
                  restart();
                }}
              >
                ✕
              </button>
            </span>
          ))}
        </div>
        <ErrorBox error={exportError} />
      </section>
      <div className="tiles" data-testid="totals">
        <Tile label="Requests" value={total ? String(n(total.requests)) : "—"} />
        <Tile label="Errors" value={total ? String(n(total.errors)) : "—"} />
        <Tile label="Tokens in · out" value={total ? `${n(total.prompt_tokens)} · ${n(total.completion_tokens)}` : "—"} />
        <Tile label="Cost" value={total ? formatUsd(total.cost_usd) : "—"} />
        <Tile label="Latency p50 · p99" value={total ? `${total.latency_p50_ms.toFixed(0)} · ${total.latency_p99_ms.toFixed(0)} ms` : "—"} />
        <Tile label="Retries · failovers" value={total ? `${n(total.retries)} · ${n(total.failovers)}` : "—"} />
      </div>
      <ErrorBox error={totals.error ?? series.error} />
      <Chart
        title={`Requests and cost (milli-USD) per ${chartBucket}`}
        data={chartData}
        xRange={[Date.parse(String(base.start_time)) / 1000, Date.parse(String(base.end_time)) / 1000]}
        bars
        series={[
          { label: "requests", stroke: "#2563eb" },
          { label: "cost m$", stroke: "#16a34a" },
        ]}
      />
      <section className="card">
        <h3>
          By {group}
          {bucket !== "none" ? ` and ${bucket}` : ""}
        </h3>
        <ErrorBox error={rows.error} />
        <table data-testid="usage-table" data-fetching={rows.isFetching ? "true" : "false"} data-group={group}>
          <thead>
            <tr>
              {bucket !== "none" ? <th>{bucket}</th> : null}
              <th>{group}</th>
              <th className="num">Requests</th>
              <th className="num">Errors</th>
              <th className="num">Tokens in</th>
              <th className="num">Tokens out</th>
              <th className="num">Cost</th>
              <th className="num">p50 ms</th>
              <th className="num">p99 ms</th>
            </tr>
          </thead>
          <tbody>
            {(rows.data?.rows ?? []).map((r, i) => (
              <tr key={`${r.bucket_start_time ?? ""}/${r.group}/${i}`} className={FILTER_OF[group] ? "clickable" : ""} onClick={() => drill(r)} title="Drill down">
                {bucket !== "none" ? <td>{r.bucket_start_time?.replace("T", " ").replace(":00Z", "")}</td> : null}
                <td>{r.group || "(none)"}</td>
                <td className="num">{n(r.requests)}</td>
                <td className="num">{n(r.errors)}</td>
                <td className="num">{n(r.prompt_tokens)}</td>
                <td className="num">{n(r.completion_tokens)}</td>
                <td className="num">{formatUsd(r.cost_usd)}</td>
                <td className="num">{r.latency_p50_ms.toFixed(1)}</td>
                <td className="num">{r.latency_p99_ms.toFixed(1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="row">
          <button
            className="secondary"
            disabled={!pager.hasPrevious}
            onClick={() => {
              pager.previous();
              setPageToken(pager.current);
            }}
          >
            ← Previous
          </button>
          <span data-testid="page">Page {pager.page}</span>
          <button
            className="secondary"
            disabled={!rows.data?.next_page_token}
            onClick={() => {
              pager.next(rows.data?.next_page_token ?? "");
              setPageToken(pager.current);
            }}
          >
            Next →
          </button>
        </div>
      </section>
    </div>
  );
}
