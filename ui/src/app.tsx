import { useEffect, useState } from "preact/hooks";
import { getSession, onSessionChanged, type SessionState } from "./bindings";
import { Shell } from "./shell";
import { SignInForm } from "./signin";
import { errorText } from "./util";

export function App() {
  const [session, setSession] = useState<SessionState | null>(null);
  useEffect(() => {
    // Listen first, then ask: no change can fall in between.
    const off = onSessionChanged(setSession);
    getSession().then(setSession, (e) => console.error(errorText(e)));
    return () => void off.then((f) => f());
  }, []);
  if (session === null || session.state === "starting") {
    return (
      <main class="center" id="starting">
        <p>Connecting{session?.state === "starting" && session.server ? ` to ${session.server}` : ""}…</p>
        {session?.state === "starting" && session.error && <p class="muted">{session.error}</p>}
      </main>
    );
  }
  if (session.state === "signed_out") return <SignInForm server={session.server} notice={session.notice} />;
  return <Shell session={session} />;
}
