import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { getJson } from "../../api/client";
import { short, type AuditEvent } from "../../api/keys";
import { ErrorBox } from "../../components/ErrorBox";
import { TokenPager } from "../../lib/paging";
import { useSession } from "../../useSession";

export function AuditLog() {
  const { key } = useSession();
  const [target, setTarget] = useState("");
  const [action, setAction] = useState("");
  const [pager] = useState(() => new TokenPager());
  const [token, setToken] = useState("");
  const events = useQuery({
    queryKey: ["audit", key, target, token],
    queryFn: () =>
      getJson<{ events?: AuditEvent[]; next_page_token?: string }>(key, "/agentopia/v1/audit-events", {
        query: { target_id: target.trim(), page_size: 50, page_token: token },
      }),
    placeholderData: keepPreviousData,
  });
  // The API filters by target; the action filter narrows the page shown.
  const shown = (events.data?.events ?? []).filter((e) => !action || e.action.includes(action));
  return (
    <section className="card">
      <h3>Audit log</h3>
      <div className="row">
        <label>
          Key id (target)
          <input
            aria-label="Target id"
            value={target}
            placeholder="key_… or pkey_…"
            onChange={(e) => {
              setTarget(e.target.value);
              pager.reset();
              setToken("");
            }}
          />
        </label>
        <label>
          Action contains
          <input aria-label="Action" value={action} placeholder="revoke, rotate, client_key." onChange={(e) => setAction(e.target.value)} />
        </label>
      </div>
      <ErrorBox error={events.error} />
      <table data-testid="audit">
        <thead>
          <tr>
            <th>Time</th>
            <th>Action</th>
            <th>Target</th>
            <th>Actor</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.event_id}>
              <td>{e.time.replace("T", " ").slice(0, 19)}</td>
              <td data-testid="audit-action">{e.action}</td>
              <td>
                <code>{e.target_id}</code>
              </td>
              <td>
                {e.actor_name} ({short(e.actor_role, "KEY_ROLE_")})
              </td>
              <td className="muted">
                {Object.entries(e.details ?? {})
                  .map(([k, v]) => `${k}=${v}`)
                  .join(" ")}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row">
        <button className="secondary" disabled={!pager.hasPrevious} onClick={() => (pager.previous(), setToken(pager.current))}>
          ← Newer
        </button>
        <span>Page {pager.page}</span>
        <button className="secondary" disabled={!events.data?.next_page_token} onClick={() => (pager.next(events.data?.next_page_token ?? ""), setToken(pager.current))}>
          Older →
        </button>
      </div>
    </section>
  );
}
