// Small helpers the screens share.
import { useEffect, useState } from "preact/hooks";
import type { CommandError } from "./bindings";

/**
 * Hands `read`'s result to `done` (its error, as text, to `fail`) unless the returned cancel ran
 * first: an effect's reads return it as their cleanup, so a stale answer never lands.
 */
export function settle<T>(read: Promise<T>, done: (value: T) => void, fail: (message: string) => void = () => {}): () => void {
  let live = true;
  read.then(
    (v) => live && done(v),
    (e) => live && fail(errorText(e)),
  );
  return () => void (live = false);
}

/** A command's error as the user reads it. */
export function errorText(e: unknown): string {
  const ce = e as Partial<CommandError>;
  return typeof ce?.message === "string" ? ce.message : String(e);
}

/** Unix ms now, once a second while `on`. */
export function useNow(on: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!on) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [on]);
  return now;
}
