import { useState } from "react";
import { NavLink, Navigate, Route, Routes } from "react-router";
import { can, loadSession, saveSession, type Role, type Session } from "./session";
import { SignIn } from "./pages/SignIn";
import { Playground } from "./pages/Playground";
import { LiveMonitor } from "./pages/LiveMonitor";
import { Usage } from "./pages/Usage";
import { Keys } from "./pages/Keys";
import { Routing } from "./pages/Routing";
import { Failover } from "./pages/Failover";
import { Errors } from "./pages/Errors";
import { Workflows } from "./pages/Workflows";
import { SessionContext } from "./useSession";

interface Page {
  path: string;
  label: string;
  allowed: (role: Role) => boolean;
  element: () => React.JSX.Element;
}

const PAGES: Page[] = [
  { path: "/playground", label: "Playground", allowed: () => true, element: () => <Playground /> },
  { path: "/workflows", label: "Workflows", allowed: () => true, element: () => <Workflows /> },
  { path: "/live", label: "Live", allowed: can.monitor, element: () => <LiveMonitor /> },
  { path: "/usage", label: "Usage & cost", allowed: can.reports, element: () => <Usage /> },
  { path: "/keys", label: "Keys", allowed: can.keys, element: () => <Keys /> },
  { path: "/routing", label: "Routing", allowed: can.routing, element: () => <Routing /> },
  { path: "/errors", label: "Errors", allowed: can.reports, element: () => <Errors /> },
  { path: "/failover", label: "Failover drill", allowed: can.change, element: () => <Failover /> },
];

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const change = (next: Session | null) => {
    saveSession(next);
    setSession(next);
  };
  if (!session) return <SignIn onSignedIn={change} />;
  const pages = PAGES.filter((p) => p.allowed(session.role));
  return (
    <SessionContext.Provider value={session}>
      <header className="top">
        <span className="brand">Agentopia</span>
        <nav>
          {pages.map((p) => (
            <NavLink key={p.path} to={p.path}>
              {p.label}
            </NavLink>
          ))}
          <a href="/docs" target="_blank" rel="noreferrer">
            API docs
          </a>
        </nav>
        <span className="who" data-testid="who">
          {session.name || "key"} · <b data-testid="role">{session.role}</b>
          <button className="link" onClick={() => change(null)}>
            Sign out
          </button>
        </span>
      </header>
      <main>
        <Routes>
          {pages.map((p) => (
            <Route key={p.path} path={p.path} element={p.element()} />
          ))}
          <Route path="*" element={<Navigate to="/playground" replace />} />
        </Routes>
      </main>
    </SessionContext.Provider>
  );
}
