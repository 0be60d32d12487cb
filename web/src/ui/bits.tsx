import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link } from "react-router";
import type { Status } from "../live/socket";

/** Page is the frame of a page: its title (the document title too), actions and content. */
export function Page({ title, actions, crumbs, children }: { title: string; actions?: ReactNode; crumbs?: { to: string; label: string }[]; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Hexabase AI`;
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      {crumbs && crumbs.length > 0 && (
        <nav aria-label="Breadcrumb" className="crumbs">
          <ol>
            {crumbs.map((c) => (
              <li key={c.to}>
                <Link to={c.to}>{c.label}</Link>
              </li>
            ))}
          </ol>
        </nav>
      )}
      <header className="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {title}
        </h1>
        {actions && <div className="page-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** StatusBadge shows a status word (running, failed, …) with its colour and text. */
export function StatusBadge({ status, title }: { status: string; title?: string }) {
  return (
    <span className={`badge badge-${status.replace(/[^a-z]/gi, "").toLowerCase()}`} title={title} data-status={status}>
      {status}
    </span>
  );
}

/** LiveIndicator says whether the page is following changes live. */
export function LiveIndicator({ status }: { status: Status }) {
  const text = status === "live" ? "Live" : status === "connecting" ? "Connecting…" : status === "offline" ? "Reconnecting…" : status === "ended" ? "Updates ended" : "Updates refused";
  return (
    <span className={`live live-${status}`} role="status" aria-live="polite">
      <span className="dot" aria-hidden="true" /> {text}
    </span>
  );
}

/** UsageBar is a labelled meter of used against a limit. */
export function UsageBar({ label, used, limit, format = String }: { label: string; used: number; limit: number; format?: (n: number) => string }) {
  const pct = limit > 0 ? Math.min(100, Math.round((used / limit) * 100)) : 0;
  const level = pct >= 90 ? "high" : pct >= 70 ? "mid" : "low";
  return (
    <div className="usage">
      <div className="usage-label">
        <span>{label}</span>
        <span>
          {format(used)} / {limit > 0 ? format(limit) : "no limit"}
        </span>
      </div>
      <meter className={`meter-${level}`} min={0} max={limit > 0 ? limit : 1} value={limit > 0 ? used : 0} aria-label={`${label}: ${format(used)} of ${limit > 0 ? format(limit) : "no limit"}`} />
    </div>
  );
}

/** CopyButton copies text to the clipboard and says so. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  const t = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (t.current) clearTimeout(t.current);
  }, []);
  return (
    <button
      type="button"
      className="btn btn-small"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setDone(true);
          t.current = setTimeout(() => setDone(false), 2000);
        } catch {
          setDone(false);
        }
      }}
    >
      {done ? "Copied" : label}
    </button>
  );
}

/** Pager is "Next page" for the API's cursors: the caller keeps the cursor stack. */
export function Pager({ hasPrev, next, onPrev, onNext }: { hasPrev: boolean; next?: string; onPrev: () => void; onNext: (c: string) => void }) {
  if (!hasPrev && !next) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="btn" disabled={!hasPrev} onClick={onPrev}>
        Previous page
      </button>
      <button type="button" className="btn" disabled={!next} onClick={() => next && onNext(next)}>
        Next page
      </button>
    </nav>
  );
}

/** useCursor keeps a stack of page cursors for Pager. */
export function useCursor() {
  const [stack, setStack] = useState<string[]>([]);
  const cursor = stack.length ? stack[stack.length - 1] : undefined;
  return {
    cursor,
    hasPrev: stack.length > 0,
    next: (c: string) => setStack((s) => [...s, c]),
    prev: () => setStack((s) => s.slice(0, -1)),
    reset: () => setStack([]),
  };
}

/** ConfirmButton asks in a native dialog before doing something destructive. */
export function ConfirmButton({ label, question, confirmLabel = label, onConfirm, disabled, className = "btn btn-danger" }: { label: string; question: string; confirmLabel?: string; onConfirm: () => void; disabled?: boolean; className?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  return (
    <>
      <button type="button" className={className} disabled={disabled} onClick={() => ref.current?.showModal()}>
        {label}
      </button>
      <dialog ref={ref} className="dialog" aria-label={label}>
        <form method="dialog">
          <p>{question}</p>
          <div className="row">
            <button type="submit" className="btn" value="cancel" autoFocus>
              Cancel
            </button>
            <button type="button" className="btn btn-danger" onClick={() => { ref.current?.close(); onConfirm(); }}>
              {confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** time formats an ISO time for people, in the browser's time zone. */
export function time(iso?: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/**
 * Scroll is a region that scrolls on its own (a wide table on a phone, a
 * long list): it is focusable and named, so keyboard users can scroll it
 * too (axe: scrollable-region-focusable).
 */
export function Scroll({ label, className = "table-wrap", children }: { label: string; className?: string; children: ReactNode }) {
  return (
    <div className={className} role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
