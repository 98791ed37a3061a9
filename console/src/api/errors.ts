// Errors in the client's own protocol: the OpenAI surface answers
// {"error": {message, type, code}}, the admin API google.rpc.Status JSON with an
// ErrorInfo reason. Both become one ApiError with a stable code.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    /** Which part of the gateway answered, for "the metrics service is down". */
    readonly service: string,
    readonly requestId: string = "",
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The backing service did not answer: the edge's own 502/503/504 (no body of
   * ours), or no answer at all. A 503 the gateway itself sends (say, every
   * deployment's circuit open) has a code of its own and is not this. */
  get unavailable(): boolean {
    return this.code === "service_unavailable" || this.code === "network_error";
  }
}

interface ErrorInfo {
  "@type"?: string;
  reason?: string;
}

export function errorFromBody(status: number, body: string, service: string, requestId = ""): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = null;
  }
  if (parsed && typeof parsed === "object") {
    const record = parsed as Record<string, unknown>;
    const openai = record.error;
    if (openai && typeof openai === "object") {
      const e = openai as Record<string, unknown>;
      const code = String(e.code ?? e.type ?? `http_${status}`);
      return new ApiError(String(e.message ?? "request failed"), status, code, service, requestId);
    }
    if (typeof record.message === "string") {
      const details = Array.isArray(record.details) ? (record.details as ErrorInfo[]) : [];
      const info = details.find((d) => String(d["@type"] ?? "").endsWith("google.rpc.ErrorInfo"));
      const code = info?.reason ?? `grpc_${String(record.code ?? status)}`;
      return new ApiError(record.message, status, code, service, requestId);
    }
  }
  if (status === 502 || status === 503 || status === 504) {
    return new ApiError(`The ${service} service is not answering (HTTP ${status}); check that it is running.`, status, "service_unavailable", service, requestId);
  }
  if (status === 404) {
    return new ApiError(`This gateway has no such API (HTTP 404).`, status, "not_found", service, requestId);
  }
  const text = body.trim().slice(0, 200) || `HTTP ${status}`;
  return new ApiError(text, status, `http_${status}`, service, requestId);
}
