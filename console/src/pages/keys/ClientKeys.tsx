import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { call, getJson } from "../../api/client";
import { short, type ClientKey, type ClientKeyUsage } from "../../api/keys";
import { ErrorBox } from "../../components/ErrorBox";
import { formatUsd } from "../../lib/decimal";
import { can } from "../../session";
import { useSession } from "../../useSession";

interface Draft {
  name: string;
  role: string;
  team: string;
  owner: string;
  allowed_models: string;
  rpm_limit: string;
  tpm_limit: string;
  budget_usd: string;
  budget_period: string;
  expire: string;
}

const EMPTY: Draft = {
  name: "",
  role: "KEY_ROLE_CLIENT",
  team: "",
  owner: "",
  allowed_models: "",
  rpm_limit: "",
  tpm_limit: "",
  budget_usd: "",
  budget_period: "BUDGET_PERIOD_MONTHLY",
  expire: "",
};

function toRequest(d: Draft): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: d.name,
    role: d.role,
    team: d.team,
    owner: d.owner,
    allowed_models: d.allowed_models.split(",").map((m) => m.trim()).filter(Boolean),
    rpm_limit: Number(d.rpm_limit || 0),
    tpm_limit: Number(d.tpm_limit || 0),
    budget_usd: d.budget_usd.trim(),
  };
  if (d.budget_usd.trim()) body.budget_period = d.budget_period;
  if (d.expire) body.expire_time = new Date(d.expire).toISOString();
  return body;
}

export function ClientKeys() {
  const { key, role } = useSession();
  const admin = can.change(role);
  const queries = useQueryClient();
  const [showRevoked, setShowRevoked] = useState(false);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [created, setCreated] = useState<{ secret: string; key: ClientKey } | null>(null);
  const [editing, setEditing] = useState<ClientKey | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const list = useQuery({
    queryKey: ["client-keys", key, showRevoked],
    queryFn: () => getJson<{ keys?: ClientKey[] }>(key, "/agentopia/v1/client-keys", { query: { include_revoked: showRevoked } }),
  });
  const refresh = () => queries.invalidateQueries({ queryKey: ["client-keys"] });
  const create = useMutation({
    mutationFn: (d: Draft) => getJson<{ secret: string; key: ClientKey }>(key, "/agentopia/v1/client-keys", { body: toRequest(d) }),
    onSuccess: (result) => {
      setCreated(result);
      setDraft(EMPTY);
      void refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => call(key, `/agentopia/v1/client-keys/${id}:revoke`, { body: {} }),
    onSuccess: () => void refresh(),
  });
  const update = useMutation({
    mutationFn: (d: Draft & { key_id: string }) =>
      call(key, `/agentopia/v1/client-keys/${d.key_id}`, {
        method: "PATCH",
        body: toRequest(d),
        query: { update_mask: "name,allowed_models,rpm_limit,tpm_limit,budget_usd,budget_period,expire_time,team,owner" },
      }),
    onSuccess: () => {
      setEditing(null);
      void refresh();
    },
  });

  return (
    <div className="grid2">
      <section className="card">
        <h3>Client keys</h3>
        <label className="check">
          <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} /> Show revoked
        </label>
        <ErrorBox error={list.error ?? revoke.error} />
        <table data-testid="client-keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Prefix</th>
              <th>Role</th>
              <th>Team</th>
              <th>Limits</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(list.data?.keys ?? []).map((k) => (
              <KeyRow
                key={k.key_id}
                k={k}
                open={open === k.key_id}
                onToggle={() => setOpen(open === k.key_id ? null : k.key_id)}
                admin={admin}
                onRevoke={() => revoke.mutate(k.key_id)}
                onEdit={() => setEditing(k)}
              />
            ))}
          </tbody>
        </table>
      </section>
      <section className="card">
        {created ? (
          <div className="notice" data-testid="created-secret">
            Key <b>{created.key.name}</b> created. Copy its secret now: it is shown once and never again.
            <pre data-testid="secret">{created.secret}</pre>
            <button className="secondary" onClick={() => void navigator.clipboard?.writeText(created.secret)}>
              Copy
            </button>{" "}
            <button className="link" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        ) : null}
        {admin ? (
          editing ? (
            <KeyForm
              key={editing.key_id}
              title={`Edit ${editing.name || editing.key_id}`}
              initial={fromKey(editing)}
              submit="Save"
              roleFixed
              busy={update.isPending}
              error={update.error}
              onSubmit={(d) => update.mutate({ ...d, key_id: editing.key_id })}
              onCancel={() => setEditing(null)}
            />
          ) : (
            <KeyForm key={created?.key.key_id ?? "new"} title="Create a client key" initial={draft} submit="Create key" busy={create.isPending} error={create.error} onSubmit={(d) => create.mutate(d)} />
          )
        ) : (
          <p className="muted">Viewer keys see keys read-only; an admin key creates, edits and revokes them.</p>
        )}
      </section>
    </div>
  );
}

function fromKey(k: ClientKey): Draft {
  return {
    name: k.name,
    role: k.role,
    team: k.team,
    owner: k.owner,
    allowed_models: k.allowed_models.join(", "),
    rpm_limit: k.rpm_limit ? String(k.rpm_limit) : "",
    tpm_limit: k.tpm_limit ? String(k.tpm_limit) : "",
    budget_usd: k.budget_usd,
    budget_period: k.budget_period === "BUDGET_PERIOD_UNSPECIFIED" ? "BUDGET_PERIOD_MONTHLY" : k.budget_period,
    expire: k.expire_time ? k.expire_time.slice(0, 16) : "",
  };
}

function KeyRow(props: { k: ClientKey; open: boolean; onToggle: () => void; admin: boolean; onRevoke: () => void; onEdit: () => void }) {
  const { k } = props;
  const limits = [k.rpm_limit ? `${k.rpm_limit} rpm` : "", k.tpm_limit ? `${k.tpm_limit} tpm` : "", k.budget_usd ? `$${k.budget_usd}/${short(k.budget_period, "BUDGET_PERIOD_")}` : ""]
    .filter(Boolean)
    .join(" · ");
  return (
    <>
      <tr className="clickable" onClick={props.onToggle} data-key-id={k.key_id}>
        <td>{k.name || <span className="muted">(unnamed)</span>}</td>
        <td>
          <code>{k.prefix}…</code>
        </td>
        <td>{short(k.role, "KEY_ROLE_")}</td>
        <td>{k.team}</td>
        <td>{limits || <span className="muted">none</span>}</td>
        <td data-testid="key-state">
          {k.revoked ? <span className="pill bad">revoked</span> : k.expire_time && Date.parse(k.expire_time) < Date.now() ? <span className="pill warn">expired</span> : <span className="pill ok">active</span>}
        </td>
        <td onClick={(e) => e.stopPropagation()}>
          {props.admin && !k.revoked && !k.bootstrap ? (
            <>
              <button className="link" onClick={props.onEdit}>
                Edit
              </button>
              <button className="link" onClick={props.onRevoke} aria-label={`Revoke ${k.name}`}>
                Revoke
              </button>
            </>
          ) : null}
        </td>
      </tr>
      {props.open ? (
        <tr>
          <td colSpan={7}>
            <KeyUsage k={k} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** A key's spend and rate against its limits, from the shared limiter (as enforced across routers). */
function KeyUsage({ k }: { k: ClientKey }) {
  const { key } = useSession();
  const usage = useQuery({
    queryKey: ["client-key-usage", key, k.key_id],
    queryFn: () => getJson<{ usage: ClientKeyUsage }>(key, `/agentopia/v1/client-keys/${k.key_id}/usage`),
    refetchInterval: 5000,
  });
  const u = usage.data?.usage;
  return (
    <div>
      <div className="muted">
        id <code>{k.key_id}</code> · models {k.allowed_models.length ? k.allowed_models.join(", ") : "all"} · expires {k.expire_time ?? "never"}
      </div>
      <ErrorBox error={usage.error} />
      {u ? (
        <div className="row">
          <Meter label="Requests / min" value={u.requests_last_minute} limit={u.rpm_limit} />
          <Meter label="Tokens / min" value={u.tokens_last_minute} limit={u.tpm_limit} />
          <Meter label={`Spend (${short(u.budget_period, "BUDGET_PERIOD_")})`} value={Number(u.spent_usd || 0)} limit={Number(u.budget_usd || 0)} money />
          <span>in flight {u.in_flight} · reserved {formatUsd(u.reserved_usd || "0")}</span>
        </div>
      ) : null}
    </div>
  );
}

function Meter({ label, value, limit, money = false }: { label: string; value: number; limit: number; money?: boolean }) {
  const show = (v: number) => (money ? formatUsd(v) : String(v));
  const share = limit ? Math.min(1, value / limit) : 0;
  return (
    <div style={{ minWidth: 160 }}>
      <div className="tile-label">{label}</div>
      <b>{show(value)}</b> / {limit ? show(limit) : "unlimited"}
      {limit ? <progress max={1} value={share} style={{ width: "100%" }} /> : null}
    </div>
  );
}

function KeyForm(props: {
  title: string;
  initial: Draft;
  submit: string;
  busy: boolean;
  error: unknown;
  roleFixed?: boolean;
  onSubmit: (d: Draft) => void;
  onCancel?: () => void;
}) {
  const [d, setD] = useState<Draft>(props.initial);
  const field = (name: keyof Draft, label: string, placeholder = "") => (
    <label>
      {label}
      <input aria-label={label} value={d[name]} placeholder={placeholder} onChange={(e) => setD({ ...d, [name]: e.target.value })} />
    </label>
  );
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(d);
      }}
    >
      <h3>{props.title}</h3>
      {field("name", "Name")}
      {props.roleFixed ? null : (
        <label>
          Role
          <select aria-label="Role" value={d.role} onChange={(e) => setD({ ...d, role: e.target.value })}>
            <option value="KEY_ROLE_CLIENT">client — inference only</option>
            <option value="KEY_ROLE_VIEWER">viewer — read-only admin</option>
            <option value="KEY_ROLE_ADMIN">admin</option>
          </select>
        </label>
      )}
      <div className="row">
        {field("team", "Team")}
        {field("owner", "Owner")}
      </div>
      {field("allowed_models", "Allowed models", "empty = all; comma-separated models or aliases")}
      <div className="row">
        {field("rpm_limit", "Requests per minute", "0 = unlimited")}
        {field("tpm_limit", "Tokens per minute", "0 = unlimited")}
      </div>
      <div className="row">
        {field("budget_usd", "Budget (USD)", "empty = none")}
        <label>
          Budget period
          <select aria-label="Budget period" value={d.budget_period} onChange={(e) => setD({ ...d, budget_period: e.target.value })}>
            <option value="BUDGET_PERIOD_DAILY">daily</option>
            <option value="BUDGET_PERIOD_WEEKLY">weekly</option>
            <option value="BUDGET_PERIOD_MONTHLY">monthly</option>
            <option value="BUDGET_PERIOD_TOTAL">total</option>
          </select>
        </label>
        <label>
          Expires
          <input aria-label="Expires" type="datetime-local" value={d.expire} onChange={(e) => setD({ ...d, expire: e.target.value })} />
        </label>
      </div>
      <ErrorBox error={props.error} />
      <div className="row">
        <button type="submit" disabled={props.busy}>
          {props.submit}
        </button>
        {props.onCancel ? (
          <button type="button" className="secondary" onClick={props.onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}
