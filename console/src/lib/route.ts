// The router explains each decision in two bounded response headers
// (services/router/routing/headers.py):
//   x-agentopia-route: model=m; deployment=d; reason=alias; retries=0; failovers=1; registry=3; why="..."
//   x-agentopia-route-excluded: gpt-4o=max_input_price;claude-opus-4-5=capability:vision;+4

export interface RouteDecision {
  model: string;
  deployment: string;
  reason: string;
  retries: number;
  failovers: number;
  registry: string;
  why: string;
}

export interface Exclusion {
  model: string;
  requirement: string;
}

export interface Excluded {
  items: Exclusion[];
  /** Candidates left out of the header to keep it bounded. */
  more: number;
}

export function parseRoute(header: string | null): RouteDecision | null {
  if (!header) return null;
  const fields = new Map<string, string>();
  // `why` is last and quoted; it never holds `"`, `;` or `=` (the router cleans them).
  const quoted = /;\s*why="([^"]*)"\s*$/.exec(header);
  const head = quoted ? header.slice(0, quoted.index) : header;
  for (const part of head.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  if (!fields.has("model")) return null;
  return {
    model: fields.get("model") ?? "",
    deployment: fields.get("deployment") ?? "-",
    reason: fields.get("reason") ?? "",
    retries: Number(fields.get("retries") ?? 0) || 0,
    failovers: Number(fields.get("failovers") ?? 0) || 0,
    registry: fields.get("registry") ?? "",
    why: quoted?.[1] ?? "",
  };
}

export function parseExcluded(header: string | null): Excluded {
  const result: Excluded = { items: [], more: 0 };
  if (!header) return result;
  for (const part of header.split(";")) {
    const item = part.trim();
    if (/^\+\d+$/.test(item)) {
      result.more = Number(item.slice(1));
      continue;
    }
    const eq = item.indexOf("=");
    if (eq > 0) result.items.push({ model: item.slice(0, eq), requirement: item.slice(eq + 1) });
  }
  return result;
}
