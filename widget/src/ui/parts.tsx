// Pieces both the embedded widget and the meet page show: the meet bar and the microphone help.

import { useEffect, useState } from "preact/hooks";

import { formatDuration, phaseText, type CallState, type MicProblem } from "./call-state";
import { browserFamily, micHelp } from "./mic-help";
import { useObservable } from "./observable";

export const icons = {
  chat: (
    <svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true">
      <path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z" />
    </svg>
  ),
  close: (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
      <path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M6 6l12 12M18 6L6 18" />
    </svg>
  ),
  phone: (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
      <path
        fill="currentColor"
        d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z"
      />
    </svg>
  ),
  mic: (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
      <path fill="currentColor" d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1a7 7 0 0 0 6-6.9z" />
    </svg>
  ),
  send: (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
      <path fill="currentColor" d="M3 20l18-8L3 4v6l12 2-12 2z" />
    </svg>
  ),
};

/** Re-renders every `ms` while `on` (the duration clock, the level meter). */
function useTicker(on: boolean, ms: number): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setTick((n) => n + 1), ms);
    return () => clearInterval(t);
  }, [on, ms]);
}

export function MeetBar({ call, onDismiss, big }: { call: CallState; onDismiss?: () => void; big?: boolean }) {
  useObservable(call);
  const connected = call.phase === "connected" || call.phase === "reconnecting";
  useTicker(connected, 100);
  const level = connected ? call.level() : 0;
  const duration = call.connectedAt !== null ? formatDuration(Date.now() - call.connectedAt) : null;
  return (
    <div class={`md-meet${big ? " md-meet-big" : ""} md-phase-${call.phase}`} data-testid="md-meet" data-phase={call.phase}>
      <div class="md-meet-row">
        <span class="md-meet-dot" aria-hidden="true" />
        <span class="md-meet-status" data-testid="md-meet-status" role="status">
          {phaseText(call.phase, call.outgoing)}
        </span>
        {connected && duration && (
          <span class="md-duration" data-testid="md-duration">
            {duration}
          </span>
        )}
      </div>
      {call.error && call.phase === "failed" && <p class="md-meet-error">{call.error}</p>}
      {call.live ? (
        <div class="md-meet-row md-meet-controls">
          <span class="md-level" data-testid="md-level" data-level={level.toFixed(2)} title="Microphone level">
            {icons.mic}
            <span class="md-level-track">
              <span class="md-level-fill" style={{ width: `${Math.round(level * 100)}%` }} />
            </span>
          </span>
          <button
            type="button"
            class="md-btn md-btn-quiet"
            data-testid="md-mute"
            aria-pressed={call.muted ? "true" : "false"}
            disabled={call.phase === "starting"}
            onClick={() => call.toggleMute()}
          >
            {call.muted ? "Unmute" : "Mute"}
          </button>
          <button type="button" class="md-btn md-btn-danger" data-testid="md-hangup" onClick={() => void call.hangUp()}>
            Hang up
          </button>
        </div>
      ) : (
        onDismiss && (
          <div class="md-meet-row md-meet-controls">
            <button type="button" class="md-btn md-btn-quiet" data-testid="md-meet-dismiss" onClick={onDismiss}>
              Close
            </button>
          </div>
        )
      )}
    </div>
  );
}

export function MicHelpView({ problem, onClose }: { problem: MicProblem; onClose?: () => void }) {
  const browser = browserFamily(navigator.userAgent);
  const help = micHelp(problem.problem, browser);
  return (
    <div class="md-mic-help" data-testid="md-mic-help" data-browser={browser} data-problem={problem.problem} role="alert">
      <h3>{help.title}</h3>
      <p>{help.summary}</p>
      <ol>
        {help.steps.map((s) => (
          <li key={s}>{s}</li>
        ))}
      </ol>
      <div class="md-row">
        <button type="button" class="md-btn md-btn-primary" data-testid="md-mic-retry" onClick={() => problem.retry()}>
          {help.retryLabel}
        </button>
        {onClose && (
          <button type="button" class="md-btn md-btn-quiet" data-testid="md-mic-help-close" onClick={onClose}>
            Not now
          </button>
        )}
      </div>
    </div>
  );
}
