import { describe, expect, it } from "vitest";
import { errorFromBody } from "./errors";

describe("errorFromBody", () => {
  it("reads the OpenAI error shape", () => {
    const body = '{"error":{"message":"No model can serve auto","type":"invalid_request_error","code":"no_model_satisfies"}}';
    const e = errorFromBody(400, body, "router");
    expect(e.code).toBe("no_model_satisfies");
    expect(e.message).toBe("No model can serve auto");
  });

  it("reads google.rpc.Status with an ErrorInfo reason", () => {
    const body = JSON.stringify({
      code: 7,
      message: "Viewer keys are read-only; this change needs an admin key.",
      details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "ADMIN_KEY_REQUIRED" }],
    });
    const e = errorFromBody(403, body, "key vault");
    expect([e.code, e.status, e.unavailable]).toEqual(["ADMIN_KEY_REQUIRED", 403, false]);
  });

  it("names the service that is down when the edge answers for it", () => {
    const e = errorFromBody(503, "upstream connect error or disconnect/reset before headers", "metrics");
    expect(e.code).toBe("service_unavailable");
    expect(e.service).toBe("metrics");
    expect(e.unavailable).toBe(true);
  });

  it("does not blame the service for a 503 it sent itself", () => {
    const body = '{"error":{"message":"No deployment is healthy","type":"server_error","code":"no_healthy_deployment"}}';
    const e = errorFromBody(503, body, "router");
    expect([e.code, e.unavailable]).toEqual(["no_healthy_deployment", false]);
  });

  it("falls back to the status for anything else", () => {
    expect(errorFromBody(404, "Not found\n", "key vault").code).toBe("not_found");
    expect(errorFromBody(418, "teapot", "router").code).toBe("http_418");
  });
});
