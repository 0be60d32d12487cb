// The functions' API as the console uses it (docs/functions.md). The types
// mirror internal/api/functions.go; the calls go through sessionFetch (the
// session's cookie, CSRF and refresh rules) and throw the answer's Problem,
// like `call` does for the typed client.
import { sessionFetch } from "../../api/client";
import { fromResponse } from "../../api/problem";
import type { Scope } from "../workloads/common";

export interface FunctionRuntime {
  name: string;
  available: boolean;
  version?: string;
  reason?: string;
  sandbox: string;
  entry: string;
}

export interface FunctionLimits {
  memory_mb?: number;
  timeout_seconds?: number;
  concurrency?: number;
  max_instances?: number;
}

export interface AliasTarget {
  version: number;
  weight: number;
}

export interface FunctionAlias {
  name: string;
  targets: AliasTarget[];
}

export interface Fn {
  name: string;
  project: string;
  runtime: string;
  access: string;
  description?: string;
  url: string;
  latest_version: number;
  aliases: FunctionAlias[];
  limits: FunctionLimits;
  secrets: string[];
  expires_at?: string;
  instances: number;
  created_at: string;
  updated_at: string;
  resource_version: string;
}

export interface FunctionVersion {
  version: number;
  digest: string;
  runtime: string;
  filename: string;
  size_bytes: number;
  env?: Record<string, string>;
  limits: FunctionLimits;
  created_at: string;
  created_by?: string;
  build_ms: number;
}

export interface FunctionCode {
  version: number;
  filename: string;
  /** base64 */
  content: string;
}

export interface DeployRequest {
  runtime: string;
  source: { filename: string; content: string };
  access?: string;
  env?: Record<string, string>;
  limits?: FunctionLimits;
  ttl?: string;
  description?: string;
}

export interface InvokeRequest {
  alias?: string;
  version?: number;
  method?: string;
  path?: string;
  query?: Record<string, string[]>;
  headers?: Record<string, string[]>;
  body?: string;
  async?: boolean;
}

export interface Invocation {
  id: string;
  function: string;
  version: number;
  alias?: string;
  trigger: string;
  status: string;
  exit_reason?: string;
  cold_start: boolean;
  started_at: string;
  duration_ms: number;
  logs?: string;
  response?: { status: number; headers?: Record<string, string[]>; body: string };
  error?: string;
}

export interface FunctionTrigger {
  name: string;
  kind: string;
  schedule?: string;
  time_zone?: string;
  topic?: string;
  alias?: string;
  created_at: string;
}

export interface List<T> {
  items: T[];
  next_cursor?: string;
}

const e = encodeURIComponent;

/** fnBase is the path of the project's functions, or of one of them. */
export function fnBase(s: Scope, name?: string): string {
  const base = `/api/v1/organizations/${e(s.org)}/workspaces/${e(s.workspace)}/projects/${e(s.project)}/functions`;
  return name === undefined ? base : `${base}/${e(name)}`;
}

/** fnCall sends a JSON request and returns the JSON answer (undefined for 204), or throws its Problem. */
export async function fnCall<T>(method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await sessionFetch(new Request(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal }));
  if (!res.ok) throw await fromResponse(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** toBase64 encodes bytes (the code of a deploy) for JSON. */
export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** fromBase64 decodes the content of a FunctionCode. */
export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** runtimeOf is the runtime a file name implies, as `hks fn deploy` decides it ("" for an archive or another name). */
export function runtimeOf(filename: string): string {
  const n = filename.toLowerCase();
  if (/\.(js|mjs|cjs)$/.test(n)) return "node";
  if (n.endsWith(".py")) return "python";
  if (n.endsWith(".go")) return "go";
  if (n.endsWith(".wasm")) return "wasm";
  return "";
}

/** targetsText is "v3", or "v1 90% · v2 10%". */
export function targetsText(ts: AliasTarget[]): string {
  if (ts.length === 1 && ts[0].weight === 100) return `v${ts[0].version}`;
  return ts.map((t) => `v${t.version} ${t.weight}%`).join(" · ");
}

/** durationText is milliseconds as 12.3 ms or 1.25 s. */
export function durationText(ms: number): string {
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** The starter code of each runtime, as docs/functions.md shows it. */
export const STARTERS: Record<string, { filename: string; code: string }> = {
  python: {
    filename: "handler.py",
    code: `def handle(req):
    print("called with", req["method"], req["path"])
    return {"status": 200, "body": "hello from python"}
`,
  },
  node: {
    filename: "index.js",
    code: `module.exports = async (req) => {
  console.log("called with", req.method, req.path);
  return { status: 200, body: "hello from node" };
};
`,
  },
  go: {
    filename: "main.go",
    code: `package main

import "fmt"

func Handle(req Request) Response {
	fmt.Println("called with", req.Method, req.Path)
	return Response{Status: 200, Body: []byte("hello from go")}
}
`,
  },
  wasm: { filename: "fn.wasm", code: "" },
};
