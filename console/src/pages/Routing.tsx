import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { getJson } from "../api/client";
import { useModels } from "../api/models";
import { ErrorBox } from "../components/ErrorBox";
import { diffLines, diffStats } from "../lib/diff";
import { can } from "../session";
import { useSession } from "../useSession";

interface RoutingConfig {
  version: number;
  toml: string;
  update_time?: string;
  updated_by: string;
}

interface Validation {
  valid: boolean;
  error: string;
  models: number;
  deployments: number;
  aliases: number;
}

interface Deployment {
  deployment_id: string;
  model: string;
  provider: string;
  region: string;
  weight: number;
  circuit: string;
  retry_after_s: number;
  outstanding: number;
  latency_ewma_ms: number;
  latency_samples: number;
  window_successes: number;
  window_failures: number;
  last_probe_kind: string;
  last_probe_ok: boolean;
  last_probe_error: string;
}

export function Routing() {
  return (
    <div>
      <Deployments />
      <div className="grid2">
        <Registry />
        <ConfigEditor />
      </div>
    </div>
  );
}

function Deployments() {
  const { key } = useSession();
  const health = useQuery({
    queryKey: ["deployments", key],
    queryFn: () => getJson<{ deployments?: Deployment[]; replica: string; registry_version: number }>(key, "/agentopia/v1/routing/deployments"),
    refetchInterval: 2000,
  });
  return (
    <section className="card">
      <h3>
        Deployments <span className="muted">as router replica {health.data?.replica || "?"} sees them (registry v{health.data?.registry_version ?? "?"}; circuits are per replica)</span>
      </h3>
      <ErrorBox error={health.error} />
      <table data-testid="deployments">
        <thead>
          <tr>
            <th>Deployment</th>
            <th>Model</th>
            <th>Provider</th>
            <th className="num">Weight</th>
            <th>Circuit</th>
            <th className="num">In flight</th>
            <th className="num">Latency (EWMA)</th>
            <th className="num">Window ok / failed</th>
            <th>Last probe</th>
          </tr>
        </thead>
        <tbody>
          {(health.data?.deployments ?? []).map((d) => (
            <tr key={d.deployment_id}>
              <td>{d.deployment_id}</td>
              <td>{d.model}</td>
              <td>{d.provider}</td>
              <td className="num">{d.weight}</td>
              <td>
                <span className={`pill ${d.circuit === "closed" ? "ok" : d.circuit === "open" ? "bad" : "warn"}`}>{d.circuit}</span>
                {d.retry_after_s ? <span className="muted"> retry in {d.retry_after_s.toFixed(0)} s</span> : null}
              </td>
              <td className="num">{d.outstanding}</td>
              <td className="num">{d.latency_samples ? `${d.latency_ewma_ms.toFixed(1)} ms` : "—"}</td>
              <td className="num">
                {d.window_successes} / {d.window_failures}
              </td>
              <td>{d.last_probe_kind ? `${d.last_probe_kind}: ${d.last_probe_ok ? "ok" : d.last_probe_error || "failed"}` : <span className="muted">none</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Registry() {
  const models = useModels();
  const list = models.data ?? [];
  const aliases = list.filter((m) => m.provider === "alias");
  const concrete = list.filter((m) => m.provider !== "alias");
  return (
    <section className="card">
      <h3>Registry: {concrete.length} models, {aliases.length} aliases</h3>
      <ErrorBox error={models.error} />
      <table data-testid="aliases">
        <thead>
          <tr>
            <th>Alias</th>
            <th>What it does</th>
          </tr>
        </thead>
        <tbody>
          {aliases.map((a) => (
            <tr key={a.id}>
              <td>{a.id}</td>
              <td>{a.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table data-testid="models">
        <thead>
          <tr>
            <th>Model</th>
            <th>Provider</th>
            <th className="num">Context</th>
            <th className="num">$/M in · out</th>
            <th>Capabilities</th>
          </tr>
        </thead>
        <tbody>
          {concrete.map((m) => (
            <tr key={m.id}>
              <td>{m.id}</td>
              <td>{m.provider}</td>
              <td className="num">{m.context_window?.toLocaleString() ?? "—"}</td>
              <td className="num">{m.pricing ? `${m.pricing.input ?? "?"} · ${m.pricing.output ?? "?"}` : "—"}</td>
              <td className="muted">{(m.capabilities ?? []).join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ConfigEditor() {
  const { key, role } = useSession();
  const admin = can.change(role);
  const queries = useQueryClient();
  const config = useQuery({
    queryKey: ["routing-config", key],
    queryFn: () => getJson<{ config: RoutingConfig }>(key, "/agentopia/v1/routing/config"),
  });
  const current = config.data?.config;
  const [draft, setDraft] = useState<string | null>(null);
  const text = draft ?? current?.toml ?? "";
  const lines = useMemo(() => (current && draft !== null ? diffLines(current.toml, draft) : []), [current, draft]);
  const stats = diffStats(lines);
  const changed = stats.added + stats.removed > 0;

  const validate = useMutation({
    mutationFn: () => getJson<Validation>(key, "/agentopia/v1/routing/config:validate", { body: { toml: text } }),
  });
  const apply = useMutation({
    mutationFn: () => getJson<{ config: RoutingConfig }>(key, "/agentopia/v1/routing/config", { method: "PUT", body: { toml: text, expected_version: current?.version ?? 0 } }),
    onSuccess: () => {
      setDraft(null);
      validate.reset();
      void queries.invalidateQueries({ queryKey: ["routing-config"] });
      void queries.invalidateQueries({ queryKey: ["models"] });
    },
  });

  return (
    <section className="card">
      <h3>
        Routing configuration <span className="muted" data-testid="config-version">v{current?.version ?? "?"}</span>
      </h3>
      <p className="muted">
        {current?.update_time ? `Updated ${current.update_time}${current.updated_by ? ` by ${current.updated_by}` : ""}.` : "The shipped default."} Validate, review the diff, then
        apply: every router replica picks the new revision up.
      </p>
      <ErrorBox error={config.error} />
      <textarea aria-label="Routing TOML" rows={18} value={text} readOnly={!admin} onChange={(e) => setDraft(e.target.value)} spellCheck={false} />
      {admin ? (
        <div className="row">
          <button className="secondary" onClick={() => validate.mutate()} disabled={validate.isPending}>
            Validate
          </button>
          <button onClick={() => apply.mutate()} disabled={!changed || apply.isPending || validate.data?.valid !== true}>
            Apply {changed ? `(+${stats.added} −${stats.removed})` : ""}
          </button>
          {draft !== null ? (
            <button className="link" onClick={() => (setDraft(null), validate.reset())}>
              Discard edits
            </button>
          ) : null}
        </div>
      ) : (
        <p className="muted">Read-only: an admin key edits the registry.</p>
      )}
      <ErrorBox error={validate.error ?? apply.error} />
      {validate.data ? (
        validate.data.valid ? (
          <div className="notice" data-testid="validation">
            Valid: {validate.data.models} models, {validate.data.deployments} deployments, {validate.data.aliases} aliases.
          </div>
        ) : (
          <div className="error" data-testid="validation">
            Invalid: {validate.data.error}
          </div>
        )
      ) : null}
      {changed ? (
        <div className="diff" data-testid="diff">
          {lines.map((l, i) =>
            l.op === "same" ? null : (
              <div key={i} className={l.op}>
                {l.op === "add" ? "+ " : "− "}
                {l.text}
              </div>
            ),
          )}
        </div>
      ) : null}
    </section>
  );
}
