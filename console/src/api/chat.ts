import { call } from "./client";
import { emptyAnswer, foldChunk, isFirstToken, type Answer } from "../lib/chat";
import { parseExcluded, parseRoute, type Excluded, type RouteDecision } from "../lib/route";
import { readSse } from "../lib/sse";

export interface StreamedCall {
  answer: Answer;
  route: RouteDecision | null;
  excluded: Excluded;
  requestId: string;
  ttftMs?: number;
  latencyMs?: number;
}

/** One streamed Chat Completions call; `onUpdate` sees the answer grow. */
export async function streamChat(key: string, body: unknown, onUpdate: (c: StreamedCall) => void, signal?: AbortSignal): Promise<StreamedCall> {
  const started = performance.now();
  const response = await call(key, "/v1/chat/completions", { body, signal });
  let current: StreamedCall = {
    answer: emptyAnswer(),
    route: parseRoute(response.headers.get("x-agentopia-route")),
    excluded: parseExcluded(response.headers.get("x-agentopia-route-excluded")),
    requestId: response.headers.get("x-request-id") ?? "",
  };
  onUpdate(current);
  for await (const event of readSse(response.body!)) {
    if (event.data === "[DONE]") break;
    const chunk = JSON.parse(event.data);
    if (current.ttftMs === undefined && isFirstToken(chunk)) current = { ...current, ttftMs: performance.now() - started };
    current = { ...current, answer: foldChunk(current.answer, chunk) };
    onUpdate(current);
  }
  current = { ...current, latencyMs: performance.now() - started };
  onUpdate(current);
  return current;
}
