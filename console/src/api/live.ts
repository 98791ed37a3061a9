import { useEffect, useRef, useState } from "react";
import { call } from "./client";
import { ApiError } from "./errors";
import { LiveWindow, toFrame } from "../lib/live";
import { readSse } from "../lib/sse";

export interface LiveState {
  window: LiveWindow;
  /** Bumped on every frame, so components re-render. */
  tick: number;
  connected: boolean;
  error: unknown;
}

/** The live stream (GET /agentopia/v1/live:events), reconnecting after a drop. */
export function useLiveStream(key: string): LiveState {
  const windowRef = useRef(new LiveWindow(120));
  const [tick, setTick] = useState(0);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const controller = new AbortController();
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    const connect = async () => {
      try {
        const response = await call(key, "/agentopia/v1/live:events", { signal: controller.signal });
        setConnected(true);
        setError(null);
        for await (const event of readSse(response.body!)) {
          windowRef.current.add(toFrame(JSON.parse(event.data)));
          setTick((t) => t + 1);
        }
        throw new ApiError("The live stream ended.", 0, "stream_ended", "metrics");
      } catch (e) {
        if (controller.signal.aborted) return;
        setConnected(false);
        setError(e);
        // A refused key will not be accepted on retry; an outage may end.
        if (!(e instanceof ApiError) || e.unavailable || e.code === "stream_ended") {
          retryTimer = setTimeout(connect, 2000);
        }
      }
    };
    void connect();
    return () => {
      controller.abort();
      clearTimeout(retryTimer);
    };
  }, [key]);

  return { window: windowRef.current, tick, connected, error };
}
