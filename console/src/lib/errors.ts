// The errors page: the latency report's per-(provider, model) error-code counts,
// regrouped by whichever dimensions the operator picks.

export interface ErrorCount {
  code: string;
  provider: string;
  model: string;
  count: number;
}

export interface ReportRow {
  provider: string;
  model: string;
  error_codes?: { error_code: string; count: string | number }[];
}

export type ErrorDimension = "code" | "provider" | "model";

export function flattenErrors(rows: readonly ReportRow[]): ErrorCount[] {
  return rows.flatMap((r) =>
    (r.error_codes ?? []).map((e) => ({ code: e.error_code, provider: r.provider, model: r.model, count: Number(e.count) })),
  );
}

export interface ErrorGroup {
  key: Partial<Record<ErrorDimension, string>>;
  count: number;
}

/** Sum counts over the chosen dimensions; largest first, then by key for a stable order. */
export function groupErrors(counts: readonly ErrorCount[], by: readonly ErrorDimension[]): ErrorGroup[] {
  const groups = new Map<string, ErrorGroup>();
  for (const c of counts) {
    const key: Partial<Record<ErrorDimension, string>> = {};
    for (const d of by) key[d] = c[d];
    const id = JSON.stringify(by.map((d) => c[d]));
    const group = groups.get(id) ?? { key, count: 0 };
    group.count += c.count;
    groups.set(id, group);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)));
}
