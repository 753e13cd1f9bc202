import { useMemo, useState } from "react";
import { fetchJson } from "../lib/api";
import { type PageConfig, parseConfig } from "../lib/config";
import { type StatusStrip, statusStrip } from "../lib/status";
import { type WinnerCard, winnerCards } from "../lib/winners";
import { LINE_COLOURS, LineStripe, Roundel } from "../Roundel";
import { usePoll } from "../usePoll";
import { qrShape } from "./qrPath";
import { histogramPercents, parseResults, type Results } from "./results";

const POLL_MS = 2000;

/** The projector view: QR of the audience URL, live counts, ratings, companies, winners. */
export default function Screen() {
  const [config, setConfig] = useState<PageConfig | null>(null);
  const [results, setResults] = useState<Results | null>(null);
  const [status, setStatus] = useState<StatusStrip>({ available: false });
  const [winners, setWinners] = useState<{ drawn: boolean; cards: WinnerCard[] }>({
    drawn: false,
    cards: [],
  });

  usePoll(async () => {
    const [c, r, s, w] = await Promise.all([
      fetchJson("/config", { timeoutMs: 4000 }),
      fetchJson("/api/survey/results", { timeoutMs: 4000 }),
      fetchJson("/api/status", { timeoutMs: 4000 }),
      fetchJson("/api/survey/winners", { timeoutMs: 4000 }),
    ]);
    if (c.ok) setConfig(parseConfig(c.body));
    if (r.ok) setResults(parseResults(r.body));
    setStatus(statusStrip(s.ok ? s.body : undefined));
    if (w.ok) {
      const body = w.body as Record<string, unknown> | null;
      setWinners({ drawn: body?.drawn === true, cards: winnerCards(w.body) });
    }
  }, POLL_MS);

  const url = config?.audienceUrl || `${window.location.origin}/`;
  const qr = useMemo(() => qrShape(url), [url]);
  const percents = histogramPercents(results?.ratings ?? [0, 0, 0, 0, 0]);

  return (
    <div className="screen">
      <header className="masthead screen-masthead">
        <Roundel label="Tube-bot" size={80} />
        <h1>{config?.title ?? "Ask the tube-bot"}</h1>
        <p className="screen-mode" data-testid="screen-mode">
          {config === null ? "…" : config.mode === "quiz" ? "Quiz open" : "Survey open"}
        </p>
      </header>
      <LineStripe />
      <main className="screen-grid">
        <section className="qr-panel" aria-label="Join from your phone">
          <svg
            className="qr"
            viewBox={`0 0 ${qr.size} ${qr.size}`}
            role="img"
            aria-label={`QR code for ${url}`}
            data-testid="qr"
            shapeRendering="crispEdges"
          >
            <rect width={qr.size} height={qr.size} fill="#fff" />
            <path d={qr.path} fill="#000" />
          </svg>
          <p className="qr-url" data-testid="audience-url">
            {url.replace(/^https?:\/\//, "").replace(/\/$/, "")}
          </p>
        </section>
        <section className="stats-panel" aria-label="Live results">
          <div className="counters">
            <div className="counter">
              <span className="counter-value" data-testid="count-questions">
                {results?.questions ?? 0}
              </span>
              <span className="counter-label">questions asked</span>
            </div>
            <div className="counter">
              <span className="counter-value" data-testid="count-responses">
                {results?.total ?? 0}
              </span>
              <span className="counter-label">survey responses</span>
            </div>
            <div className="counter">
              <span className="counter-value">
                {status.available ? `${status.podsReady}/${status.podsDesired}` : "–"}
              </span>
              <span className="counter-label">
                pods · {status.available ? `${status.gpuNodes} GPU nodes` : "status unavailable"}
              </span>
            </div>
          </div>
          <h2>Ratings{results?.average != null ? ` · average ${results.average.toFixed(1)}` : ""}</h2>
          <ol className="histogram" data-testid="histogram">
            {[1, 2, 3, 4, 5].map((n, i) => (
              <li key={n}>
                <span className="bar-label">{n}</span>
                <span className="bar-track">
                  <span
                    className="bar"
                    style={{ width: `${percents[i]}%`, background: LINE_COLOURS[[1, 8, 3, 9, 11][i]] }}
                  />
                </span>
                <span className="bar-count">{results?.ratings[i] ?? 0}</span>
              </li>
            ))}
          </ol>
          <h2>Top companies</h2>
          {results !== null && results.topCompanies.length > 0 ? (
            <ol className="companies" data-testid="companies">
              {results.topCompanies.map((c) => (
                <li key={c.company}>
                  <span>{c.company}</span>
                  <span className="company-count">{c.count}</span>
                </li>
              ))}
            </ol>
          ) : (
            <p className="muted">No companies yet.</p>
          )}
        </section>
      </main>
      {winners.drawn && (
        <div className="winners-reveal" role="status" data-testid="winners-reveal">
          <Roundel label="Winners" size={90} />
          <ul>
            {winners.cards.map((c) => (
              <li key={c.ticket}>
                {c.name} <span className="ticket">ticket {c.ticket}</span>
              </li>
            ))}
          </ul>
          <p>Winners: come to the front!</p>
        </div>
      )}
    </div>
  );
}
