// Small helpers the screens share.
import { useEffect, useState } from "preact/hooks";
import type { CommandError } from "./bindings";

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
