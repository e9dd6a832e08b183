// The Settings screen: the microphone and speaker for meets, the microphone permission (P7)
// with the platform's steps, starting at sign-in, and the server this app is signed in to.
import { useEffect, useState } from "preact/hooks";
import {
  checkMicrophone,
  getSettings,
  listDevices,
  setAutostart,
  setDevices,
  signOut,
  testMicrophone,
  type AudioDevices,
  type MicCheck,
  type MicTest,
  type SettingsView,
} from "./bindings";
import { deviceOptions, micStatusText } from "./settings";
import type { SignedIn } from "./shell";
import { errorText } from "./util";

/**
 * The microphone and speaker pickers. `compact`: the meet panel's version (a change applies
 * from the next meet: the devices of a running meet stay open until it ends).
 */
export function DevicePicker({ compact = false }: { compact?: boolean }) {
  const [devices, setDeviceList] = useState<AudioDevices | null>(null);
  const [settings, setSettings] = useState<SettingsView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(!compact);
  const reload = () => {
    setError(null);
    listDevices().then(setDeviceList, (e) => setError(errorText(e)));
    getSettings().then(setSettings, (e) => setError(errorText(e)));
  };
  useEffect(() => {
    if (open) reload();
  }, [open]);
  if (compact && !open) {
    return <button class="link small" data-testid="md-devices-open" onClick={() => setOpen(true)}>Devices…</button>;
  }
  const pick = (which: "microphone" | "speaker", value: string) => {
    if (!settings) return;
    const next = { ...settings.devices, [which]: value === "" ? null : value };
    setDevices(next).then(setSettings, (e) => setError(errorText(e)));
  };
  const picker = (which: "microphone" | "speaker", label: string) => {
    const present = which === "microphone" ? devices?.microphones : devices?.speakers;
    const picked = settings?.devices[which] ?? null;
    return (
      <label class="device-picker">
        <span>{label}</span>
        <select data-testid={`md-${which}-picker`} disabled={!devices || !settings} value={picked ?? ""}
          onChange={(e) => pick(which, (e.target as HTMLSelectElement).value)}>
          {deviceOptions(present ?? [], picked).map((o) => (
            <option key={o.value} value={o.value}>{o.label}</option>
          ))}
        </select>
      </label>
    );
  };
  return (
    <div class={`devices ${compact ? "compact" : ""}`} data-testid="md-devices">
      {picker("microphone", "Microphone")}
      {picker("speaker", "Speaker")}
      <div class="device-actions">
        <button class="link small" data-testid="md-devices-refresh" onClick={reload}>Refresh the list</button>
        {compact && <button class="link small" onClick={() => setOpen(false)}>Close</button>}
      </div>
      {compact && <p class="muted small">A change applies from the next meet.</p>}
      {devices?.error && <p class="error small">{devices.error}</p>}
      {error && <p class="error small" role="alert">{error}</p>}
    </div>
  );
}

/** The microphone permission (P7): its status, the platform's steps, and Try again. */
function MicrophoneCheck() {
  const [check, setCheck] = useState<MicCheck | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = () => {
    setBusy(true);
    setError(null);
    checkMicrophone().then(
      (c) => (setCheck(c), setBusy(false)),
      (e) => (setError(errorText(e)), setBusy(false)),
    );
  };
  useEffect(run, []);
  return (
    <div class="mic-check" data-testid="md-mic-check" data-status={check?.status ?? ""}>
      <p>
        Microphone access: <strong data-testid="md-mic-status">{check ? micStatusText(check) : "Checking…"}</strong>
      </p>
      {check?.message && <p class="error">{check.message}</p>}
      {check?.steps && <p data-testid="md-mic-steps">{check.steps}</p>}
      {check && check.status !== "granted" && !check.restart_needed && (
        <button data-testid="md-mic-retry" disabled={busy} onClick={run}>Try again</button>
      )}
      {check?.restart_needed && <p class="muted small">The change applies once meetdesk is opened again.</p>}
      {error && <p class="error small" role="alert">{error}</p>}
    </div>
  );
}

/** "Test microphone": two seconds of listening, then how loud it was. */
function MicrophoneTest() {
  const [result, setResult] = useState<MicTest | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = () => {
    setBusy(true);
    setError(null);
    testMicrophone().then(
      (r) => (setResult(r), setBusy(false)),
      (e) => (setError(errorText(e)), setBusy(false)),
    );
  };
  return (
    <div class="mic-test">
      <button data-testid="md-mic-test" disabled={busy} onClick={run}>
        {busy ? "Listening… say something" : "Test microphone"}
      </button>
      {result && !busy && (
        <div class="mic-test-result" data-testid="md-mic-test-result" data-level={result.level}>
          <div class="meter" role="meter" aria-valuemin={0} aria-valuemax={1} aria-valuenow={result.level}>
            <div class="meter-bar" style={{ width: `${Math.round(result.level * 100)}%` }} />
          </div>
          <span class="muted small">{result.level > 0.05 ? `Heard on ${result.device}` : `Nothing heard on ${result.device}`}</span>
        </div>
      )}
      {error && <p class="error small" role="alert">{error}</p>}
    </div>
  );
}

function Autostart() {
  const [on, setOn] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    getSettings().then((s) => setOn(s.autostart), (e) => setError(errorText(e)));
  }, []);
  const toggle = (enabled: boolean) => {
    setError(null);
    setAutostart({ enabled }).then((s) => setOn(s.autostart), (e) => setError(errorText(e)));
  };
  return (
    <>
      <label class="toggle">
        <input type="checkbox" data-testid="md-autostart" checked={on ?? false} disabled={on === null}
          onChange={(e) => toggle((e.target as HTMLInputElement).checked)} />
        Start meetdesk when I sign in to the computer
      </label>
      {error && <p class="error small" role="alert">{error}</p>}
    </>
  );
}

export function Settings({ session }: { session: SignedIn }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <main class="settings" data-testid="md-settings">
      <section>
        <h2>Sound</h2>
        <DevicePicker />
        <MicrophoneCheck />
        <MicrophoneTest />
      </section>
      <section>
        <h2>Start</h2>
        <Autostart />
      </section>
      <section>
        <h2>Server</h2>
        <p>
          Signed in to <code data-testid="md-settings-server">{session.server}</code> as {session.agent.name}.
        </p>
        <button data-testid="md-settings-sign-out" onClick={() => void signOut().catch((e) => setError(errorText(e)))}>
          Sign out
        </button>
        {error && <p class="error small" role="alert">{error}</p>}
      </section>
    </main>
  );
}
