/** The Underground roundel, drawn inline (no image request), with a word on its bar. */
export function Roundel({ label, size = 56 }: { label: string; size?: number }) {
  return (
    <svg
      className="roundel"
      width={size * 1.6}
      height={size}
      viewBox="0 0 160 100"
      role="img"
      aria-label={`${label} roundel`}
    >
      <circle cx="80" cy="50" r="38" fill="none" stroke="#DC241F" strokeWidth="20" />
      <rect x="4" y="38" width="152" height="24" fill="#0019A8" />
      <text
        x="80"
        y="56.5"
        textAnchor="middle"
        fontFamily="Arial, Helvetica, sans-serif"
        fontWeight="700"
        fontSize="17"
        letterSpacing="1"
        fill="#fff"
      >
        {label.toUpperCase()}
      </text>
    </svg>
  );
}

/** A thin band of line colours under the header, the look of a line diagram. */
export function LineStripe() {
  return (
    <div className="line-stripe" aria-hidden="true">
      {LINE_COLOURS.map((c) => (
        <span key={c} style={{ background: c }} />
      ))}
    </div>
  );
}

export const LINE_COLOURS = [
  "#B36305", // Bakerloo
  "#E32017", // Central
  "#FFD300", // Circle
  "#00782A", // District
  "#F3A9BB", // Hammersmith & City
  "#A0A5A9", // Jubilee
  "#9B0056", // Metropolitan
  "#000000", // Northern
  "#003688", // Piccadilly
  "#0098D4", // Victoria
  "#95CDBA", // Waterloo & City
  "#6950A1", // Elizabeth
];
