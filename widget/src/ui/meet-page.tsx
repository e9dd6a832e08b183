// The full page a meet link opens.

import { MeetBar, MicHelpView } from "./parts";
import { useObservable } from "./observable";
import type { MeetPageState } from "./meet-page-state";

export function MeetPage({ p }: { p: MeetPageState }) {
  useObservable(p);
  return (
    <main class="md-page" data-testid="md-meet-page" data-state={p.state}>
      <div class="md-page-card">
        <p class="md-brand">meetdesk</p>
        {p.state === "checking" && <p class="md-loading">Opening the meet…</p>}
        {(p.state === "ready" || p.state === "joining") && (
          <>
            <h1>{p.callerName ? `${p.callerName} would like to talk with you` : "The team would like to talk with you"}</h1>
            <p>Your browser will ask to use the microphone.</p>
            {p.micProblem && <MicHelpView problem={p.micProblem} />}
            {!p.micProblem && (
              <button type="button" class="md-btn md-btn-accept md-btn-large" data-testid="md-join" disabled={p.state === "joining"} onClick={() => void p.join()}>
                {p.state === "joining" ? "Joining…" : "Join the meet"}
              </button>
            )}
          </>
        )}
        {(p.state === "in_meet" || (p.state === "ended" && p.call)) && p.call && (
          <>
            <h1>{p.callerName ? `Meet with ${p.callerName}` : "Meet with the team"}</h1>
            <MeetBar call={p.call} big />
          </>
        )}
        {p.state === "ended" && !p.problem && (
          <p class="md-page-note">You can close this page. The team can call you again from the chat.</p>
        )}
        {(p.state === "error" || p.state === "ended") && p.problem && (
          <div data-testid="md-link-error" data-code={p.problem.code} role="alert">
            <h1>{p.problem.title}</h1>
            <p>{p.problem.text}</p>
          </div>
        )}
      </div>
    </main>
  );
}
