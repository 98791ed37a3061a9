import { useQuery } from "@tanstack/react-query";
import { getJson } from "./client";
import type { Pricing } from "../lib/cost";
import { useSession } from "../useSession";

export interface ModelEntry {
  id: string;
  provider?: string;
  upstream_model?: string;
  owned_by?: string;
  description?: string;
  capabilities?: string[];
  context_window?: number;
  pricing?: Pricing;
}

/** GET /v1/models: the models and aliases this key may call. */
export function useModels() {
  const { key } = useSession();
  return useQuery({
    queryKey: ["models", key],
    queryFn: async () => (await getJson<{ data: ModelEntry[] }>(key, "/v1/models")).data,
    staleTime: 60_000,
  });
}

/** The upstream name of a provider's cheapest model: what validating a key calls. */
export function cheapestUpstream(models: ModelEntry[], provider: string): string {
  const own = models.filter((m) => m.provider === provider && m.upstream_model);
  own.sort((a, b) => (a.pricing?.input ?? Infinity) - (b.pricing?.input ?? Infinity));
  return own[0]?.upstream_model ?? "";
}
