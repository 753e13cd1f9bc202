/** A QR code as one SVG path, computed locally (no online service). Pure. */
import QRCode from "qrcode";

export interface QrShape {
  /** modules per side, quiet zone included */
  size: number;
  path: string;
}

const QUIET = 4; // the quiet zone the QR spec asks for, in modules

export function qrShape(text: string): QrShape {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: "M" });
  const n = modules.size;
  let path = "";
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      if (modules.get(y, x)) path += `M${x + QUIET} ${y + QUIET}h1v1h-1z`;
    }
  }
  return { size: n + 2 * QUIET, path };
}
