import { useState } from "react";
import { AuditLog } from "./keys/AuditLog";
import { ClientKeys } from "./keys/ClientKeys";
import { ProviderKeys } from "./keys/ProviderKeys";

const TABS = { client: "Client keys", provider: "Provider keys", audit: "Audit log" } as const;

export function Keys() {
  const [tab, setTab] = useState<keyof typeof TABS>("client");
  return (
    <div>
      <div className="tabs" role="tablist">
        {Object.entries(TABS).map(([id, label]) => (
          <button key={id} role="tab" aria-selected={tab === id} className={tab === id ? "on" : ""} onClick={() => setTab(id as keyof typeof TABS)}>
            {label}
          </button>
        ))}
      </div>
      {tab === "client" ? <ClientKeys /> : tab === "provider" ? <ProviderKeys /> : <AuditLog />}
    </div>
  );
}
