/** The presenter screen's reading of GET /api/survey/results. Pure. */

export interface Results {
  total: number;
  questions: number;
  ratings: [number, number, number, number, number];
  topCompanies: { company: string; count: number }[];
  average: number | null;
}

export function parseResults(value: unknown): Results | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  const ratingsIn =
    typeof v.ratings === "object" && v.ratings !== null ? (v.ratings as Record<string, unknown>) : {};
  const ratings = [1, 2, 3, 4, 5].map((n) => count(ratingsIn[String(n)])) as Results["ratings"];
  const rated = ratings.reduce((a, b) => a + b, 0);
  const average = rated === 0 ? null : ratings.reduce((sum, c, i) => sum + c * (i + 1), 0) / rated;
  const top = Array.isArray(v.top_companies) ? v.top_companies : [];
  const topCompanies = top
    .map((t: unknown) => {
      const r = typeof t === "object" && t !== null ? (t as Record<string, unknown>) : {};
      return { company: typeof r.company === "string" ? r.company : "", count: count(r.count) };
    })
    .filter((t) => t.company !== "")
    .slice(0, 5);
  return { total: count(v.total), questions: count(v.questions), ratings, topCompanies, average };
}

/** Bar lengths as percentages of the tallest bar (an empty histogram draws no bars). */
export function histogramPercents(ratings: readonly number[]): number[] {
  const max = Math.max(0, ...ratings);
  return ratings.map((c) => (max === 0 ? 0 : Math.round((c / max) * 100)));
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
