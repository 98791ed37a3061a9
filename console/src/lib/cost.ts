// What a response cost at the model's list price (GET /v1/models `pricing`,
// USD per million tokens). The reports hold the billed figure; the playground
// shows this estimate as soon as the usage arrives.

export interface Pricing {
  input?: number;
  output?: number;
  cached_input?: number;
}

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number };
}

export function estimateCost(pricing: Pricing | undefined, usage: Usage | undefined): number | null {
  if (!pricing || !usage || pricing.input === undefined || pricing.output === undefined) return null;
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  const fresh = Math.max(0, (usage.prompt_tokens ?? 0) - cached);
  const cachedPrice = pricing.cached_input ?? pricing.input;
  const micro = fresh * pricing.input + cached * cachedPrice + (usage.completion_tokens ?? 0) * pricing.output;
  return micro / 1_000_000;
}
