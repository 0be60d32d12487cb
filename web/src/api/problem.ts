// Problem is an RFC 9457 problem+json answer of the API, thrown by the
// api client for every answer that is not a success. Pages show it with
// <ProblemAlert> and put its field errors under their fields.
export interface FieldProblem {
  field: string;
  message: string;
}

export class Problem extends Error {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors: FieldProblem[];
  readonly requestId: string;

  constructor(body: Partial<Problem> & { status: number }, requestId = "") {
    super(body.detail || body.title || `request failed with status ${body.status}`);
    this.type = body.type ?? "about:blank";
    this.title = body.title ?? "Request failed";
    this.status = body.status;
    this.detail = body.detail ?? "";
    this.errors = Array.isArray(body.errors) ? body.errors : [];
    this.requestId = requestId;
  }

  /** The message of the field error for field (or a field under it). */
  field(name: string): string | undefined {
    return this.errors.find((e) => e.field === name || e.field.startsWith(name + "[") || e.field.startsWith(name + "."))
      ?.message;
  }
}

export function isProblem(e: unknown): e is Problem {
  return e instanceof Problem;
}

/** problemOf turns any thrown value into a Problem (network failures too). */
export function problemOf(e: unknown): Problem {
  if (e instanceof Problem) return e;
  return new Problem({
    status: 0,
    type: "network",
    title: "The server could not be reached",
    detail: "Check your connection and that hks is running, then try again.",
  });
}

/** fromResponse builds the Problem of a failed answer. */
export async function fromResponse(res: Response): Promise<Problem> {
  const rid = res.headers.get("X-Request-Id") ?? "";
  const ct = res.headers.get("Content-Type") ?? "";
  if (ct.includes("json")) {
    try {
      const body = await res.clone().json();
      if (body && typeof body === "object") return new Problem({ ...body, status: res.status }, rid);
    } catch {
      /* not JSON after all */
    }
  }
  return new Problem({ status: res.status, title: res.statusText || "Request failed" }, rid);
}
