// After `vite build`: a gzip and a Brotli copy of every script in dist/, which the server
// sends to browsers that accept them (tower-http ServeDir's precompressed files), so the
// widget goes over the wire at about a third of its size without compressing per request.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const dist = new URL("./dist/", import.meta.url).pathname;
for (const name of readdirSync(dist)) {
  if (!name.endsWith(".js")) continue;
  const file = join(dist, name);
  const raw = readFileSync(file);
  writeFileSync(`${file}.gz`, gzipSync(raw, { level: 9 }));
  writeFileSync(
    `${file}.br`,
    brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }),
  );
}
