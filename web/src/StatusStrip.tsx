import { useState } from "react";
import { fetchJson } from "./lib/api";
import { type StatusStrip as Strip, statusStrip } from "./lib/status";
import { usePoll } from "./usePoll";

/** The scaling the audience causes, live: queue, virtual commuters, pods, GPU nodes. */
export function StatusStrip({ active }: { active: boolean }) {
  const [strip, setStrip] = useState<Strip | null>(null);
  usePoll(async () => {
    const r = await fetchJson("/api/status", { timeoutMs: 4000 });
    setStrip(statusStrip(r.ok ? r.body : undefined));
  }, 2000, active);
  if (strip === null) {
    return (
      <section className="status-strip" aria-label="Live status">
        <p className="status-note">Checking the line status…</p>
      </section>
    );
  }
  if (!strip.available) {
    return (
      <section className="status-strip" aria-label="Live status">
        <p className="status-note" data-testid="status-unavailable">
          Live status unavailable
        </p>
      </section>
    );
  }
  const scalingWord =
    strip.scaling === "up" ? "Scaling up!" : strip.scaling === "down" ? "Scaling down" : "Good service";
  return (
    <section className="status-strip" aria-label="Live status" data-testid="status-strip">
      <div className={`status-banner status-${strip.scaling}`}>{scalingWord}</div>
      <dl className="status-grid">
        <div>
          <dt>Queue</dt>
          <dd data-testid="status-queue">{strip.queue}</dd>
        </div>
        <div>
          <dt>Commuters</dt>
          <dd data-testid="status-commuters">{strip.virtualCommuters.toLocaleString("en-GB")}</dd>
        </div>
        <div>
          <dt>Pods</dt>
          <dd data-testid="status-pods">
            {strip.podsReady}/{strip.podsDesired}
          </dd>
        </div>
        <div>
          <dt>GPU nodes</dt>
          <dd data-testid="status-gpus">{strip.gpuNodes}</dd>
        </div>
      </dl>
    </section>
  );
}
