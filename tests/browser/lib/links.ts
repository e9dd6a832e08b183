// Signed links made by the test itself with the server's own key (read from its SQLite file):
// the only way to hold a correctly signed link for a meet that does not exist, to see the
// meet page's `not_found`. Format as crates/server/src/links.rs:
// base64url(JSON claims) "." base64url(HMAC-SHA256(key, payload)), no padding.
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";

/** The server's link signing key (`server_secrets.link_signing_key`) in SQLite file `dbFile`. */
export function linkSigningKey(dbFile: string): string {
  const r = spawnSync("sqlite3", [dbFile, "SELECT value FROM server_secrets WHERE name = 'link_signing_key'"], {
    encoding: "utf8",
  });
  if (r.status !== 0 || !r.stdout.trim()) throw new Error(`reading the link signing key from ${dbFile}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A meet link token: opens meet `m` for customer `c` until `e` (ms since the epoch). */
export function signMeetToken(key: string, claims: { m: string; c: string; e: number }): string {
  const payload = Buffer.from(JSON.stringify({ k: "meet", ...claims })).toString("base64url");
  const sig = createHmac("sha256", key).update(payload).digest("base64url");
  return `${payload}.${sig}`;
}
