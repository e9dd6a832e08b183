// The meets of this device: ring cards and the meet panel, as Rust publishes them.
import { useEffect, useState } from "preact/hooks";
import {
  acceptRing,
  declineRing,
  getSession,
  hangUp,
  inviteAgent,
  listAgents,
  meetState,
  onMeetChanged,
  setMuted,
  type AgentView,
  type CallUi,
  type MeetUiState,
  type RingUi,
} from "./bindings";
import { callDuration, canInvite, invitableAgents, phaseText, scopeText } from "./meet";
import { errorText, settle, useNow } from "./util";
import { DevicePicker } from "./settings-view";

/** The meets of this device, as Rust publishes them (`meet_changed`). */
export function useMeets(): MeetUiState {
  const [meets, setMeets] = useState<MeetUiState>({ ringing: [], call: null });
  useEffect(() => {
    const off = onMeetChanged(setMeets);
    meetState().then(setMeets, (e) => console.error(errorText(e)));
    return () => void off.then((f) => f());
  }, []);
  return meets;
}

function RingCard({ ring }: { ring: RingUi }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    f().then(
      () => setBusy(false),
      (e) => (setError(errorText(e)), setBusy(false)),
    );
  };
  return (
    <div class={`ring-card ${ring.scope === "internal" ? "internal" : ""}`} data-testid="md-ring" data-meet-id={ring.meet_id}
      data-deadline={ring.deadline} role="alertdialog" aria-label={`Incoming meet from ${ring.caller_name}`}>
      <div class="ring-info">
        <span class="muted small">{scopeText(ring.scope)}</span>
        <strong data-testid="md-ring-caller">{ring.caller_name}</strong>
        {error && <span class="error small" role="alert">{error}</span>}
      </div>
      <button class="round decline" data-testid="md-ring-decline" disabled={busy} title="Decline"
        onClick={() => act(() => declineRing({ meet_id: ring.meet_id }))}>✕<span class="label">Decline</span></button>
      <button class="round accept" data-testid="md-ring-accept" disabled={busy} title="Accept"
        onClick={() => act(() => acceptRing({ meet_id: ring.meet_id }))}>✓<span class="label">Accept</span></button>
    </div>
  );
}

/**
 * P6: invite another agent into the meet: the channel's agents not in it (the server rings
 * every device they are signed in on; one who does not answer gets an "Invited by" record).
 */
function InvitePicker({ call, onClose }: { call: CallUi; onClose: () => void }) {
  const [agents, setAgents] = useState<AgentView[] | null>(null);
  const [selfId, setSelfId] = useState<string>("");
  const [error, setError] = useState<string | null>(null);
  const [invited, setInvited] = useState<string | null>(null);
  useEffect(() => {
    const self = settle(getSession(), (s) => s.state === "signed_in" && setSelfId(s.agent.id));
    const agents = settle(listAgents(), setAgents, setError);
    return () => (self(), agents());
  }, []);
  const offered = agents === null ? null : invitableAgents(agents, call, selfId);
  return (
    <div class="invite" data-testid="md-invite-list" role="dialog" aria-label="Invite an agent">
      <div class="invite-head">
        <strong>Invite an agent</strong>
        <button class="link" data-testid="md-invite-close" onClick={onClose}>Close</button>
      </div>
      {error && <p class="error small" role="alert">{error}</p>}
      {invited && <p class="muted small" data-testid="md-invite-done">Invited {invited}: their devices ring.</p>}
      {offered === null ? (
        <p class="muted small">Loading…</p>
      ) : offered.length === 0 ? (
        <p class="muted small">Nobody else to invite.</p>
      ) : (
        <ul>
          {offered.map((a) => (
            <li key={a.id}>
              <button class="invite-agent" data-testid="md-invite-agent" data-agent-id={a.id}
                onClick={() => {
                  setError(null);
                  inviteAgent({ meet_id: call.meet_id, agent_id: a.id }).then(
                    () => setInvited(a.name),
                    (e) => setError(errorText(e)),
                  );
                }}>{a.name}</button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function CallPanel({ call }: { call: CallUi }) {
  const [inviting, setInviting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const live = call.phase !== "ended";
  const now = useNow(live && call.started_at !== null);
  const duration = callDuration(call, now);
  const act = (f: () => Promise<unknown>) => {
    setError(null);
    f().catch((e) => setError(errorText(e)));
  };
  return (
    <div class={`call-panel ${call.internal ? "internal" : ""} ${call.phase}`} data-testid="md-call" data-meet-id={call.meet_id}
      data-phase={call.phase}>
      <div class="call-head">
        <span class="call-title">{call.internal ? "Internal meet" : scopeText(call.scope)}</span>
        <span class="call-status" data-testid="md-call-status">{phaseText(call.phase)}</span>
        <span class="call-duration" data-testid="md-call-duration">{duration ?? "--:--"}</span>
      </div>
      <div class="call-people" data-testid="md-call-participants">
        {call.participants.length === 0 ? <span class="muted">Just you</span> : call.participants.join(", ")}
      </div>
      {call.notice && <p class="muted small" data-testid="md-call-notice">{call.notice}</p>}
      {error && <p class="error small" role="alert">{error}</p>}
      {live && (
        <div class="call-controls">
          <div class="meter" data-testid="md-call-level" title="Microphone level" role="meter"
            aria-valuemin={0} aria-valuemax={1} aria-valuenow={call.input_level}>
            <div class="meter-bar" style={{ width: `${Math.round(call.input_level * 100)}%` }} />
          </div>
          <button class={`mute ${call.muted ? "on" : ""}`} data-testid="md-call-mute" aria-pressed={call.muted}
            onClick={() => act(() => setMuted({ muted: !call.muted }))}>{call.muted ? "Unmute" : "Mute"}</button>
          {canInvite(call) && (
            <button class="invite-button" data-testid="md-call-invite" aria-expanded={inviting}
              onClick={() => setInviting(!inviting)}>Invite</button>
          )}
          <button class="hangup" data-testid="md-call-hangup" onClick={() => act(() => hangUp())}>Hang up</button>
        </div>
      )}
      {live && inviting && canInvite(call) && <InvitePicker call={call} onClose={() => setInviting(false)} />}
      {live && <DevicePicker compact />}
    </div>
  );
}

/** The ring cards and the meet panel (they alone re-render with the 10 Hz level). */
export function MeetLayer() {
  const meets = useMeets();
  if (meets.ringing.length === 0 && meets.call === null) return null;
  return (
    <div class="meet-layer">
      {meets.ringing.map((r) => <RingCard key={r.meet_id} ring={r} />)}
      {meets.call && <CallPanel call={meets.call} />}
    </div>
  );
}
