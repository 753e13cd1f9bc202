/** The live status strip: what GET /api/status says, reduced to what a phone shows. Pure. */

export interface StatusView {
  available: true;
  queue: number;
  virtualCommuters: number;
  podsReady: number;
  podsDesired: number;
  gpuNodes: number;
  scaling: "up" | "down" | "steady";
}

export type StatusStrip = StatusView | { available: false };

/** Reduces a /api/status body (or a failed fetch: `undefined`) to the strip's content. */
export function statusStrip(value: unknown): StatusStrip {
  if (typeof value !== "object" || value === null) return { available: false };
  const v = value as Record<string, unknown>;
  if (v.available !== true) return { available: false };
  const replicas =
    typeof v.replicas === "object" && v.replicas !== null
      ? (v.replicas as Record<string, unknown>)
      : {};
  const queue = count(v.queue);
  const multiplier = count(v.multiplier) || 1;
  const podsReady = count(replicas.ready);
  const podsDesired = count(replicas.desired);
  return {
    available: true,
    queue,
    // each waiting request stands for `multiplier` commuters on the platform (the talk's story)
    virtualCommuters: queue * multiplier,
    podsReady,
    podsDesired,
    gpuNodes: count(v.gpu_nodes),
    scaling: podsDesired > podsReady ? "up" : podsDesired < podsReady ? "down" : "steady",
  };
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
