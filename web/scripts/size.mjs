// What a phone downloads, gzipped (the gateway may serve it uncompressed; this is the floor on
// a weak network when compression is on). The presenter chunk (Screen-*) is listed apart:
// phones never fetch it.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

const dist = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "..", "dist");
const files = ["index.html", ...readdirSync(path.join(dist, "assets")).map((f) => `assets/${f}`)];
let phone = { raw: 0, gz: 0 };
let screen = { raw: 0, gz: 0 };
for (const f of files) {
  const data = readFileSync(path.join(dist, f));
  const gz = gzipSync(data, { level: 9 }).length;
  const bucket = /Screen-/.test(f) ? screen : phone;
  bucket.raw += data.length;
  bucket.gz += gz;
  console.log(`${f.padEnd(36)} ${(data.length / 1024).toFixed(1).padStart(7)} KiB  gzip ${(gz / 1024).toFixed(1).padStart(6)} KiB`);
}
console.log(`audience page total: ${(phone.raw / 1024).toFixed(1)} KiB, gzip ${(phone.gz / 1024).toFixed(1)} KiB`);
console.log(`presenter-only chunk: ${(screen.raw / 1024).toFixed(1)} KiB, gzip ${(screen.gz / 1024).toFixed(1)} KiB`);
