// The metrics service's report API (protos/agentopia/v1/metrics_service.proto).
// int64 fields arrive as JSON strings (proto3 JSON), hence `string | number`.

export type Int64 = string | number;

export interface UsageRow {
  group: string;
  requests: Int64;
  errors: Int64;
  prompt_tokens: Int64;
  completion_tokens: Int64;
  cached_tokens?: Int64;
  cost_usd: string;
  latency_p50_ms: number;
  latency_p95_ms?: number;
  latency_p99_ms: number;
  bucket_start_time?: string;
  unpriced_requests?: Int64;
  retries?: Int64;
  failovers?: Int64;
}

export interface LatencyRow {
  provider: string;
  model: string;
  bucket_start_time?: string;
  requests: Int64;
  errors: Int64;
  error_rate: number;
  latency_p50_ms: number;
  latency_p95_ms: number;
  latency_p99_ms: number;
  time_to_first_token_p50_ms: number;
  time_to_first_token_p95_ms: number;
  overhead_p50_ms: number;
  overhead_p95_ms: number;
}

export const GROUPS = {
  model: "USAGE_GROUP_BY_MODEL",
  provider: "USAGE_GROUP_BY_PROVIDER",
  key: "USAGE_GROUP_BY_KEY",
  team: "USAGE_GROUP_BY_TEAM",
  total: "USAGE_GROUP_BY_UNSPECIFIED",
} as const;

export const BUCKETS = {
  none: "TIME_BUCKET_UNSPECIFIED",
  minute: "TIME_BUCKET_MINUTE",
  hour: "TIME_BUCKET_HOUR",
  day: "TIME_BUCKET_DAY",
} as const;

export const n = (v: Int64 | undefined): number => Number(v ?? 0);
