// The sign-in form.
import { useState } from "preact/hooks";
import { signIn } from "./bindings";
import { errorText } from "./util";

export function SignInForm(props: { server: string | null; notice: string | null }) {
  const [server, setServer] = useState(props.server ?? "");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(props.notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn({ server, email, password }); // the session_changed event switches screens
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return (
    <main class="center">
      <form id="sign-in-form" class="card" onSubmit={submit}>
        <h1>Sign in to meetdesk</h1>
        <label>
          Server
          <input id="server" type="url" placeholder="https://support.example.com" required value={server}
            onInput={(e) => setServer(e.currentTarget.value)} />
        </label>
        <label>
          E-mail
          <input id="email" type="email" autocomplete="username" required value={email}
            onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input id="password" type="password" autocomplete="current-password" required value={password}
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && <p class="error" id="sign-in-error" role="alert">{error}</p>}
        <button id="sign-in" type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </main>
  );
}
