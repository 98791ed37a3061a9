// The one way the console calls the gateway: same origin, the session's key as
// a bearer token, errors turned into ApiError naming the service behind the path.

import { ApiError, errorFromBody } from "./errors";

const SERVICES: [string, string][] = [
  ["/agentopia/v1/usage", "metrics"],
  ["/agentopia/v1/reports", "metrics"],
  ["/agentopia/v1/latency", "metrics"],
  ["/agentopia/v1/overhead", "metrics"],
  ["/agentopia/v1/live", "metrics"],
  ["/agentopia/v1/routing", "router"],
  ["/agentopia/v1/", "key vault"],
  ["/v1/", "router"],
];

export function serviceOf(path: string): string {
  return SERVICES.find(([prefix]) => path.startsWith(prefix))?.[1] ?? "gateway";
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Query;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** The raw Response for a 2xx; an ApiError otherwise (network failures included). */
export async function call(key: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const url = withQuery(path, options.query);
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(url, { method: options.method ?? (body ? "POST" : "GET"), headers, body, signal: options.signal });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError("The gateway is not reachable from this browser.", 0, "network_error", serviceOf(path));
  }
  if (!response.ok) {
    const text = await response.text();
    throw errorFromBody(response.status, text, serviceOf(path), response.headers.get("x-request-id") ?? "");
  }
  return response;
}

export async function getJson<T>(key: string, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await call(key, path, options);
  return (await response.json()) as T;
}
