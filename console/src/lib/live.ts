// The live stream sends one frame a second (metrics/live.py): counts and
// percentiles of that second, plus the latest circuits and key health. The
// monitor keeps a bounded window of frames and derives rates from it.

import { addDecimals } from "./decimal";

export interface Circuit {
  deployment_id: string;
  provider: string;
  model: string;
  state: string;
}

export interface KeyStatus {
  provider: string;
  key_id: string;
  health: string;
}

export interface LiveFrame {
  time: string;
  requests: number;
  errors: number;
  latency_p50_ms: number;
  latency_p95_ms: number;
  latency_p99_ms: number;
  time_to_first_token_p50_ms: number;
  overhead_p50_ms: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: string;
  retries: number;
  failovers: number;
  circuits: Circuit[];
  keys: KeyStatus[];
}

/** A frame from the stream's JSON, with absent numbers as 0 (proto3 may omit them). */
export function toFrame(raw: Record<string, unknown>): LiveFrame {
  const num = (k: string): number => (typeof raw[k] === "number" ? (raw[k] as number) : 0);
  return {
    time: String(raw.time ?? ""),
    requests: num("requests"),
    errors: num("errors"),
    latency_p50_ms: num("latency_p50_ms"),
    latency_p95_ms: num("latency_p95_ms"),
    latency_p99_ms: num("latency_p99_ms"),
    time_to_first_token_p50_ms: num("time_to_first_token_p50_ms"),
    overhead_p50_ms: num("overhead_p50_ms"),
    prompt_tokens: num("prompt_tokens"),
    completion_tokens: num("completion_tokens"),
    cost_usd: typeof raw.cost_usd === "string" ? raw.cost_usd : "0",
    retries: num("retries"),
    failovers: num("failovers"),
    circuits: Array.isArray(raw.circuits) ? (raw.circuits as Circuit[]) : [],
    keys: Array.isArray(raw.keys) ? (raw.keys as KeyStatus[]) : [],
  };
}

export interface WindowSummary {
  seconds: number;
  requestsPerSecond: number;
  errorRate: number;
  tokensPerSecond: number;
  spendPerSecond: string;
  retries: number;
  failovers: number;
}

/** The last `capacity` seconds, in time order, one frame per second. */
export class LiveWindow {
  readonly frames: LiveFrame[] = [];

  constructor(private readonly capacity = 120) {}

  add(frame: LiveFrame): void {
    const last = this.frames[this.frames.length - 1];
    if (last !== undefined && frame.time <= last.time) {
      // A reconnect may repeat a second: the newer frame replaces it.
      const at = this.frames.findIndex((f) => f.time === frame.time);
      if (at !== -1) this.frames[at] = frame;
      return;
    }
    this.frames.push(frame);
    if (this.frames.length > this.capacity) this.frames.splice(0, this.frames.length - this.capacity);
  }

  /** Rates over the last `seconds` frames (fewer while the window fills). */
  summary(seconds: number): WindowSummary {
    const recent = this.frames.slice(-seconds);
    const n = recent.length;
    const sum = (pick: (f: LiveFrame) => number): number => recent.reduce((a, f) => a + pick(f), 0);
    const requests = sum((f) => f.requests);
    const spend = addDecimals(recent.map((f) => f.cost_usd));
    return {
      seconds: n,
      requestsPerSecond: n ? requests / n : 0,
      errorRate: requests ? sum((f) => f.errors) / requests : 0,
      tokensPerSecond: n ? sum((f) => f.prompt_tokens + f.completion_tokens) / n : 0,
      spendPerSecond: n ? (Number(spend) / n).toPrecision(3) : "0",
      retries: sum((f) => f.retries),
      failovers: sum((f) => f.failovers),
    };
  }

  /** uPlot's columnar data: x in unix seconds, then one array per series. */
  series(...picks: ((f: LiveFrame) => number)[]): [number[], ...number[][]] {
    const xs = this.frames.map((f) => Date.parse(f.time) / 1000);
    return [xs, ...picks.map((pick) => this.frames.map(pick))];
  }

  latest(): LiveFrame | undefined {
    return this.frames[this.frames.length - 1];
  }
}
