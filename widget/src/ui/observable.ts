// The UI's state holders are plain classes that say when they changed; components subscribe
// through `useObservable` and re-render.

import { useEffect, useReducer } from "preact/hooks";

export class Observable {
  private listeners = new Set<() => void>();

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  protected changed(): void {
    for (const fn of [...this.listeners]) fn();
  }
}

/** Re-renders the calling component whenever `o` changes. */
export function useObservable(o: Observable): void {
  const [, bump] = useReducer((n: number, _: undefined) => n + 1, 0);
  useEffect(() => o.subscribe(() => bump(undefined)), [o]);
}
