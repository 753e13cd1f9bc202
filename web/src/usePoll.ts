import { useEffect, useRef } from "react";

/**
 * Calls `tick` now and then every `intervalMs` after the previous call finished (never two in
 * flight, so a slow gateway is not piled on). Stops when `enabled` turns false or on unmount.
 */
export function usePoll(tick: () => Promise<void>, intervalMs: number, enabled = true): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        await latest.current();
      } finally {
        if (!stopped) timer = setTimeout(run, intervalMs);
      }
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [intervalMs, enabled]);
}
