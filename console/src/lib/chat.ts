// Chat Completions chunks folded into one answer: content, tool calls (whose
// arguments arrive in pieces keyed by index), finish reason and usage.

import type { Usage } from "./cost";

export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface Answer {
  content: string;
  toolCalls: ToolCall[];
  finishReason: string;
  usage?: Usage;
  model: string;
  /** An error sent in-band after streaming began. */
  error?: { message: string; code: string };
}

export function emptyAnswer(): Answer {
  return { content: "", toolCalls: [], finishReason: "", model: "" };
}

interface DeltaToolCall {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface Choice {
  delta?: { content?: string | null; tool_calls?: DeltaToolCall[] };
  message?: { content?: string | null; tool_calls?: { id: string; function: { name: string; arguments: string } }[] };
  finish_reason?: string | null;
}

interface Chunk {
  model?: string;
  choices?: Choice[];
  usage?: Usage | null;
  error?: { message?: string; code?: string; type?: string };
}

/** Fold one streamed chunk into the answer (returns a new object for React). */
export function foldChunk(answer: Answer, chunk: Chunk): Answer {
  const next: Answer = { ...answer, toolCalls: answer.toolCalls.map((t) => ({ ...t })) };
  if (chunk.error) {
    next.error = { message: chunk.error.message ?? "stream failed", code: chunk.error.code ?? chunk.error.type ?? "error" };
    return next;
  }
  if (chunk.model) next.model = chunk.model;
  if (chunk.usage) next.usage = chunk.usage;
  const choice = chunk.choices?.[0];
  if (!choice) return next;
  if (choice.delta?.content) next.content += choice.delta.content;
  for (const call of choice.delta?.tool_calls ?? []) {
    const at = call.index ?? 0;
    const slot = (next.toolCalls[at] ??= { id: "", name: "", arguments: "" });
    if (call.id) slot.id = call.id;
    if (call.function?.name) slot.name += call.function.name;
    if (call.function?.arguments) slot.arguments += call.function.arguments;
  }
  if (choice.finish_reason) next.finishReason = choice.finish_reason;
  return next;
}

/** A whole (non-streamed) completion as an answer. */
export function fromCompletion(body: Chunk): Answer {
  const choice = body.choices?.[0];
  return {
    content: choice?.message?.content ?? "",
    toolCalls: (choice?.message?.tool_calls ?? []).map((t) => ({ id: t.id, name: t.function.name, arguments: t.function.arguments })),
    finishReason: choice?.finish_reason ?? "",
    usage: body.usage ?? undefined,
    model: body.model ?? "",
  };
}

/** The first chunk that carries something the user sees: time to first token. */
export function isFirstToken(chunk: Chunk): boolean {
  const delta = chunk.choices?.[0]?.delta;
  return Boolean(delta?.content || delta?.tool_calls?.length);
}
