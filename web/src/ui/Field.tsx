import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from "react";
import { problemOf } from "../api/problem";

/** fieldError is the message of a field error of a failed call, if any. */
export function fieldError(error: unknown, name: string): string | undefined {
  if (!error) return undefined;
  return problemOf(error).field(name);
}

interface Common {
  label: string;
  /** the API field name, whose error (from `error`) shows under the input */
  name: string;
  error?: unknown;
  /** a message to show whatever `error` says (e.g. live validation) */
  message?: string;
  hint?: ReactNode;
}

function Wrap({ id, label, msg, hint, children }: { id: string; label: string; msg?: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <div className={"field" + (msg ? " field-invalid" : "")}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && (
        <div id={id + "-hint"} className="hint">
          {hint}
        </div>
      )}
      {msg && (
        <div id={id + "-error"} className="field-error" role="alert">
          {msg}
        </div>
      )}
    </div>
  );
}

function describedBy(id: string, msg?: string, hint?: ReactNode) {
  return [hint ? id + "-hint" : "", msg ? id + "-error" : ""].filter(Boolean).join(" ") || undefined;
}

export function TextField({ label, name, error, message, hint, ...rest }: Common & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  const msg = message ?? fieldError(error, name);
  return (
    <Wrap id={id} label={label} msg={msg} hint={hint}>
      <input id={id} name={name} aria-invalid={msg ? true : undefined} aria-describedby={describedBy(id, msg, hint)} {...rest} />
    </Wrap>
  );
}

export function SelectField({ label, name, error, message, hint, children, ...rest }: Common & SelectHTMLAttributes<HTMLSelectElement>) {
  const id = useId();
  const msg = message ?? fieldError(error, name);
  return (
    <Wrap id={id} label={label} msg={msg} hint={hint}>
      <select id={id} name={name} aria-invalid={msg ? true : undefined} aria-describedby={describedBy(id, msg, hint)} {...rest}>
        {children}
      </select>
    </Wrap>
  );
}

export function TextAreaField({ label, name, error, message, hint, ...rest }: Common & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  const msg = message ?? fieldError(error, name);
  return (
    <Wrap id={id} label={label} msg={msg} hint={hint}>
      <textarea id={id} name={name} aria-invalid={msg ? true : undefined} aria-describedby={describedBy(id, msg, hint)} {...rest} />
    </Wrap>
  );
}

export function CheckboxField({ label, name, hint, ...rest }: { label: string; name: string; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <div className="field field-check">
      <input id={id} type="checkbox" name={name} aria-describedby={hint ? id + "-hint" : undefined} {...rest} />
      <label htmlFor={id}>{label}</label>
      {hint && (
        <div id={id + "-hint"} className="hint">
          {hint}
        </div>
      )}
    </div>
  );
}
