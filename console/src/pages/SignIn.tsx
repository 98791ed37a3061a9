import { useState } from "react";
import { ErrorBox } from "../components/ErrorBox";
import { signIn, type Session } from "../session";

export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(key.trim()));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="signin card" onSubmit={submit}>
      <h1>Agentopia console</h1>
      <p>
        Paste an Agentopia key. <code>make run</code> prints the admin key; viewer keys see everything read-only,
        client keys the playground and workflows. The key stays in this tab's session storage only.
      </p>
      <input
        type="password"
        name="key"
        aria-label="API key"
        placeholder="sk-agp-…"
        value={key}
        onChange={(e) => setKey(e.target.value)}
        autoFocus
        autoComplete="off"
      />
      <button type="submit" disabled={busy || key.trim() === ""}>
        {busy ? "Checking…" : "Sign in"}
      </button>
      <ErrorBox error={error} />
    </form>
  );
}
