// The signed-in window: the top bar (channel, the screens, connection, agent, sign-out), the
// offline banner, the screen picked, and the meet layer over all of them.
import { useEffect, useState } from "preact/hooks";
import { signOut, type SessionState } from "./bindings";
import { History } from "./history-view";
import { Inbox } from "./inbox-view";
import { useAppLinks } from "./links";
import { MeetLayer } from "./meet-layer";
import { Settings } from "./settings-view";
import { onTeamRoomRequested, Team } from "./team-view";
import { errorText } from "./util";

export type SignedIn = Extract<SessionState, { state: "signed_in" }>;

/** The screens of the signed-in window. */
export type Screen = "inbox" | "team" | "history" | "settings";

const SCREENS: { screen: Screen; label: string }[] = [
  { screen: "inbox", label: "Inbox" },
  { screen: "team", label: "Team" },
  { screen: "history", label: "History" },
  { screen: "settings", label: "Settings" },
];

export function Shell({ session }: { session: SignedIn }) {
  const [screen, setScreen] = useState<Screen>("inbox");
  const [error, setError] = useState<string | null>(null);
  const online = session.connection === "online";
  // Another screen opened a team room (`openTeamRoom`): show the team screen.
  useEffect(() => onTeamRoomRequested(() => setScreen("team")), []);
  // `meetdesk://` links: a chat shows the inbox (links.ts).
  useAppLinks(() => setScreen("inbox"), setError);
  return (
    <div class="inbox">
      <header class="topbar">
        <strong>{session.channel.name}</strong>
        <nav class="screens">
          {SCREENS.map((s) => (
            <button key={s.screen} class={`tab ${screen === s.screen ? "active" : ""}`} data-screen={s.screen}
              aria-pressed={screen === s.screen} onClick={() => setScreen(s.screen)}>{s.label}</button>
          ))}
        </nav>
        <span class={`conn ${session.connection}`} id="connection">
          {online ? "Online" : session.connection === "connecting" ? "Connecting…" : "Offline — reconnecting"}
        </span>
        <span class="spacer" />
        <span id="agent-name">{session.agent.name}</span>
        {error && <span class="error small" role="alert">{error}</span>}
        <button id="sign-out" class="link" onClick={() => void signOut().catch((e) => setError(errorText(e)))}>
          Sign out
        </button>
      </header>
      {session.connection === "offline" && (
        <div class="banner" id="offline-banner">Offline: reconnecting to {session.server}…</div>
      )}
      {screen === "inbox" && <Inbox session={session} />}
      {screen === "team" && <Team session={session} />}
      {screen === "history" && <History session={session} />}
      {screen === "settings" && <Settings session={session} />}
      <MeetLayer />
    </div>
  );
}
