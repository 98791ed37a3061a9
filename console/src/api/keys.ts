// The key vault's admin API (client_key_service.proto, provider_key_service.proto,
// audit_service.proto) as the console uses it.

export interface ClientKey {
  key_id: string;
  prefix: string;
  name: string;
  role: string;
  allowed_models: string[];
  create_time?: string;
  expire_time?: string;
  revoke_time?: string;
  owner: string;
  team: string;
  revoked: boolean;
  rpm_limit: number;
  tpm_limit: number;
  budget_usd: string;
  budget_period: string;
  bootstrap: boolean;
}

export interface ClientKeyUsage {
  rpm_limit: number;
  requests_last_minute: number;
  tpm_limit: number;
  tokens_last_minute: number;
  budget_usd: string;
  budget_period: string;
  spent_usd: string;
  reserved_usd: string;
  in_flight: number;
}

export interface ProviderKey {
  key_id: string;
  provider: string;
  label: string;
  last4: string;
  weight: number;
  state: string;
  create_time?: string;
  retire_time?: string;
  replaced_by: string;
  health?: {
    flagged: boolean;
    flag_reason: string;
    cooldown_until?: string;
    last_status: number;
    last_outcome_time?: string;
    last_validate_time?: string;
    last_validate_result: string;
  };
}

export interface AuditEvent {
  event_id: string;
  time: string;
  actor_key_id: string;
  actor_name: string;
  actor_role: string;
  action: string;
  target_id: string;
  details: Record<string, string>;
}

export const short = (enumValue: string, prefix: string): string => enumValue.replace(prefix, "").toLowerCase();
