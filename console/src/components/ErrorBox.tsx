import { ApiError } from "../api/errors";

/** An API failure as a readable message with its stable code (and which service, when it is down). */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  if (error instanceof ApiError) {
    return (
      <div className="error" role="alert" data-code={error.code}>
        {error.unavailable ? <b>The {error.service} service is unavailable. </b> : null}
        {error.code === "service_unavailable" ? null : error.message} <code>{error.code}</code>
        {error.requestId ? <span className="muted"> · request {error.requestId}</span> : null}
      </div>
    );
  }
  return (
    <div className="error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </div>
  );
}
