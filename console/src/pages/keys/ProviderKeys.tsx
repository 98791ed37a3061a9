import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { call, getJson } from "../../api/client";
import { short, type ProviderKey } from "../../api/keys";
import { cheapestUpstream, useModels } from "../../api/models";
import { ErrorBox } from "../../components/ErrorBox";
import { can } from "../../session";
import { useSession } from "../../useSession";

interface Validation {
  valid: boolean;
  result: string;
  upstream_status: number;
  message: string;
}

export function ProviderKeys() {
  const { key, role } = useSession();
  const admin = can.change(role);
  const queries = useQueryClient();
  const [showRetired, setShowRetired] = useState(false);
  const [validation, setValidation] = useState<Record<string, Validation>>({});
  const [rotating, setRotating] = useState<ProviderKey | null>(null);
  const models = useModels();

  const list = useQuery({
    queryKey: ["provider-keys", key, showRetired],
    queryFn: () => getJson<{ keys?: ProviderKey[] }>(key, "/agentopia/v1/provider-keys", { query: { include_retired: showRetired } }),
    refetchInterval: 10_000,
  });
  const refresh = () => queries.invalidateQueries({ queryKey: ["provider-keys"] });
  const patch = useMutation({
    mutationFn: ({ id, fields, mask }: { id: string; fields: Record<string, unknown>; mask: string }) =>
      call(key, `/agentopia/v1/provider-keys/${id}`, { method: "PATCH", body: fields, query: { update_mask: mask } }),
    onSuccess: () => void refresh(),
  });
  const validate = useMutation({
    // One small call with the key to the provider's cheapest model.
    mutationFn: async (k: ProviderKey) => ({
      id: k.key_id,
      v: await getJson<Validation>(key, `/agentopia/v1/provider-keys/${k.key_id}:validate`, {
        body: { model: cheapestUpstream(models.data ?? [], k.provider) },
      }),
    }),
    onSuccess: ({ id, v }) => {
      setValidation((all) => ({ ...all, [id]: v }));
      void refresh();
    },
  });

  return (
    <div className="grid2">
      <section className="card">
        <h3>Provider keys</h3>
        <p className="muted">Secrets never leave the key vault: only the last four characters are shown.</p>
        <label className="check">
          <input type="checkbox" checked={showRetired} onChange={(e) => setShowRetired(e.target.checked)} /> Show retired
        </label>
        <ErrorBox error={list.error ?? patch.error ?? validate.error} />
        <table data-testid="provider-keys">
          <thead>
            <tr>
              <th>Provider</th>
              <th>Label</th>
              <th>Secret</th>
              <th>Weight</th>
              <th>State</th>
              <th>Health</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(list.data?.keys ?? []).map((k) => (
              <tr key={k.key_id} data-key-id={k.key_id}>
                <td>{k.provider}</td>
                <td>{k.label}</td>
                <td>
                  <code>…{k.last4}</code>
                </td>
                <td>
                  {admin && k.state !== "PROVIDER_KEY_STATE_RETIRED" ? (
                    <input
                      aria-label={`Weight of ${k.label}`}
                      type="number"
                      min={0}
                      defaultValue={k.weight}
                      style={{ width: 64 }}
                      onBlur={(e) => Number(e.target.value) !== k.weight && patch.mutate({ id: k.key_id, fields: { weight: Number(e.target.value) }, mask: "weight" })}
                    />
                  ) : (
                    k.weight
                  )}
                </td>
                <td>
                  <span className={`pill ${k.state.endsWith("ACTIVE") ? "ok" : k.state.endsWith("COOLING_DOWN") ? "warn" : "bad"}`}>{short(k.state, "PROVIDER_KEY_STATE_")}</span>
                  {k.retire_time ? <div className="muted">retires {k.retire_time}</div> : null}
                </td>
                <td>
                  <Health k={k} validation={validation[k.key_id]} />
                </td>
                <td>
                  {admin && k.state !== "PROVIDER_KEY_STATE_RETIRED" ? (
                    <>
                      <button className="link" onClick={() => validate.mutate(k)}>
                        Validate
                      </button>
                      <button className="link" onClick={() => setRotating(k)}>
                        Rotate
                      </button>
                      {k.state.endsWith("DISABLED") ? (
                        <button className="link" onClick={() => patch.mutate({ id: k.key_id, fields: { state: "PROVIDER_KEY_STATE_ACTIVE" }, mask: "state" })}>
                          Enable
                        </button>
                      ) : (
                        <button className="link" onClick={() => patch.mutate({ id: k.key_id, fields: { state: "PROVIDER_KEY_STATE_DISABLED" }, mask: "state" })}>
                          Disable
                        </button>
                      )}
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="card">{admin ? rotating ? <Rotate k={rotating} onDone={() => (setRotating(null), void refresh())} /> : <AddKey onDone={() => void refresh()} /> : <p className="muted">An admin key adds, rotates, disables and validates provider keys.</p>}</section>
    </div>
  );
}

function Health({ k, validation }: { k: ProviderKey; validation?: Validation }) {
  const h = k.health;
  const parts: string[] = [];
  if (h?.flagged) parts.push(`flagged: ${h.flag_reason}`);
  if (h?.cooldown_until) parts.push(`cooling down until ${h.cooldown_until}`);
  if (h?.last_status) parts.push(`last upstream status ${h.last_status}`);
  if (h?.last_validate_result) parts.push(`validated: ${h.last_validate_result}`);
  return (
    <span data-testid="health">
      {parts.length ? parts.join(" · ") : <span className="muted">no outcomes yet</span>}
      {validation ? <div className={validation.valid ? "" : "error"}>{validation.message || validation.result}</div> : null}
    </span>
  );
}

function AddKey({ onDone }: { onDone: () => void }) {
  const { key } = useSession();
  const [provider, setProvider] = useState("");
  const [label, setLabel] = useState("");
  const [secret, setSecret] = useState("");
  const [weight, setWeight] = useState("1");
  const add = useMutation({
    mutationFn: () => call(key, "/agentopia/v1/provider-keys", { body: { provider, label, secret, weight: Number(weight) } }),
    onSuccess: () => {
      setSecret("");
      setLabel("");
      onDone();
    },
  });
  return (
    <form onSubmit={(e) => (e.preventDefault(), add.mutate())}>
      <h3>Add a provider key</h3>
      <div className="row">
        <label>
          Provider
          <input aria-label="Provider" value={provider} onChange={(e) => setProvider(e.target.value)} placeholder="openai, anthropic, groq, …" />
        </label>
        <label>
          Label
          <input aria-label="Label" value={label} onChange={(e) => setLabel(e.target.value)} />
        </label>
        <label>
          Weight
          <input aria-label="Weight" value={weight} onChange={(e) => setWeight(e.target.value)} />
        </label>
      </div>
      <label>
        Secret
        <input aria-label="Secret" type="password" autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} />
      </label>
      <ErrorBox error={add.error} />
      <button type="submit" disabled={add.isPending || !provider || !secret}>
        Add key
      </button>
    </form>
  );
}

function Rotate({ k, onDone }: { k: ProviderKey; onDone: () => void }) {
  const { key } = useSession();
  const [secret, setSecret] = useState("");
  const [overlap, setOverlap] = useState("600");
  const rotate = useMutation({
    mutationFn: () => call(key, `/agentopia/v1/provider-keys/${k.key_id}:rotate`, { body: { secret, overlap: `${Number(overlap)}s` } }),
    onSuccess: onDone,
  });
  return (
    <form onSubmit={(e) => (e.preventDefault(), rotate.mutate())}>
      <h3>
        Rotate {k.provider} key {k.label} (…{k.last4})
      </h3>
      <p className="muted">The new key takes traffic at once; the old one serves only as a fallback during the overlap, then retires.</p>
      <label>
        New secret
        <input aria-label="New secret" type="password" autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} />
      </label>
      <label>
        Overlap (seconds)
        <input aria-label="Overlap" value={overlap} onChange={(e) => setOverlap(e.target.value)} />
      </label>
      <ErrorBox error={rotate.error} />
      <div className="row">
        <button type="submit" disabled={rotate.isPending || !secret}>
          Rotate
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
