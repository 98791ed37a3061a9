// The failover page's timeline: each request's outcome as the client saw it,
// bucketed by second, and the circuit state of the faulted deployment over time.

export interface Outcome {
  /** Unix milliseconds when the request was sent. */
  at: number;
  ok: boolean;
  status: number;
  retries: number;
  failovers: number;
  servedBy: string;
  latencyMs: number;
}

export interface Second {
  t: number; // unix seconds
  ok: number;
  failed: number;
  retries: number;
  failovers: number;
}

export function bySecond(outcomes: readonly Outcome[]): Second[] {
  const seconds = new Map<number, Second>();
  for (const o of outcomes) {
    const t = Math.floor(o.at / 1000);
    let s = seconds.get(t);
    if (!s) seconds.set(t, (s = { t, ok: 0, failed: 0, retries: 0, failovers: 0 }));
    if (o.ok) s.ok++;
    else s.failed++;
    s.retries += o.retries;
    s.failovers += o.failovers;
  }
  const sorted = [...seconds.values()].sort((a, b) => a.t - b.t);
  // Seconds without requests are zeros, so the chart's gaps mean "no traffic", not missing data.
  const filled: Second[] = [];
  for (const s of sorted) {
    const last = filled[filled.length - 1];
    for (let t = (last?.t ?? s.t) + 1; last && t < s.t; t++) filled.push({ t, ok: 0, failed: 0, retries: 0, failovers: 0 });
    filled.push(s);
  }
  return filled;
}

export function successRate(outcomes: readonly Outcome[]): number | null {
  if (outcomes.length === 0) return null;
  return outcomes.filter((o) => o.ok).length / outcomes.length;
}

/** Circuit states as chart levels: closed 0, half-open 1, open 2. */
export const CIRCUIT_LEVEL: Record<string, number> = { closed: 0, half_open: 1, open: 2 };

export interface Transition {
  at: number;
  from: string;
  to: string;
}

/** Append `state` at `at` to a transition log when it differs from the last one. */
export function noteState(log: readonly Transition[], at: number, state: string): Transition[] {
  const last = log[log.length - 1];
  const from = last?.to ?? "";
  return from === state ? [...log] : [...log, { at, from, to: state }];
}
