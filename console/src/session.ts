// Who is signed in: the pasted key (in sessionStorage only: it dies with the
// tab and is never written to localStorage or a cookie) and its role.

import { ApiError } from "./api/errors";
import { call, getJson } from "./api/client";

export type Role = "admin" | "viewer" | "client";

export interface Session {
  key: string;
  role: Role;
  keyId: string;
  name: string;
}

const STORAGE_KEY = "agentopia.session";

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(STORAGE_KEY);
}

const ROLES: Record<string, Role> = {
  KEY_ROLE_ADMIN: "admin",
  KEY_ROLE_VIEWER: "viewer",
  KEY_ROLE_CLIENT: "client",
  admin: "admin",
  viewer: "viewer",
  client: "client",
};

interface KeyRecord {
  key_id: string;
  prefix: string;
  name: string;
  role: string;
}

/** The key's role: from GET /agentopia/v1/me where the gateway has it; else a
 * key that may not list client keys is a client key, and one that may is found
 * in the list by its prefix. Throws ApiError for a key the gateway refuses. */
export async function signIn(key: string): Promise<Session> {
  const me = await whoAmI(key);
  if (me) return me;
  await call(key, "/v1/models"); // 401 for an unknown, revoked or expired key
  let keys: KeyRecord[];
  try {
    keys = (await getJson<{ keys?: KeyRecord[] }>(key, "/agentopia/v1/client-keys")).keys ?? [];
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return { key, role: "client", keyId: "", name: "" };
    throw error;
  }
  const own = keys
    .filter((k) => k.prefix && key.startsWith(k.prefix))
    .sort((x, y) => y.prefix.length - x.prefix.length)[0];
  return { key, role: ROLES[own?.role ?? ""] ?? "viewer", keyId: own?.key_id ?? "", name: own?.name ?? "" };
}

async function whoAmI(key: string): Promise<Session | null> {
  try {
    const me = await getJson<Record<string, unknown>>(key, "/agentopia/v1/me");
    const record = (me.key as Record<string, unknown> | undefined) ?? me;
    const role = ROLES[String(record.role ?? "")];
    if (!role) return null;
    return { key, role, keyId: String(record.key_id ?? ""), name: String(record.name ?? "") };
  } catch (error) {
    // Not there yet (404) or not answering: fall back to what the API allows today.
    if (error instanceof ApiError && error.status === 401) throw error;
    return null;
  }
}

export const can = {
  monitor: (r: Role) => r !== "client",
  reports: (r: Role) => r !== "client",
  keys: (r: Role) => r !== "client",
  routing: (r: Role) => r !== "client",
  change: (r: Role) => r === "admin",
};
