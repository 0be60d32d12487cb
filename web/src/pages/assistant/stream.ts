// The assistant's turn as Server-Sent Events (docs/assistant.md): the
// console POSTs the user's message with Accept: text/event-stream and reads
// the answer's body as it arrives, frame by frame: `message` (a message of
// the chat: the user's, the assistant's, a tool's result), `delta` (a piece
// of the reply being written), `plan` (a write waiting for confirmation),
// `done` (the turn) or `error` (a problem). A failure before the stream
// begins is an ordinary problem+json answer, thrown as a Problem.
import { sessionFetch } from "../../api/client";
import { Problem, fromResponse } from "../../api/problem";
import type { Message, Plan, Turn } from "./common";

export interface TurnHandlers {
  onMessage: (m: Message) => void;
  onDelta: (text: string) => void;
  onPlan: (p: Plan) => void;
}

/** SSEFrame is one event of a stream. */
export interface SSEFrame {
  event: string;
  data: string;
}

/**
 * SSEParser cuts a text stream into frames (the WHATWG rules that matter
 * here: lines end in \n, \r\n or \r; a blank line ends a frame; data lines
 * join with \n; comments and unknown fields are ignored).
 */
export class SSEParser {
  private buf = "";
  private event = "";
  private data: string[] = [];

  /** push feeds text and returns the frames it completed. */
  push(text: string): SSEFrame[] {
    this.buf += text;
    const out: SSEFrame[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!m || (m[0] === "\r" && m.index === this.buf.length - 1)) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      if (line === "") {
        if (this.data.length > 0) out.push({ event: this.event || "message", data: this.data.join("\n") });
        this.event = "";
        this.data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? "" : line.slice(i + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
    }
    return out;
  }
}

/**
 * sendMessage asks for a turn and streams it to the handlers; it resolves
 * with the turn (the `done` event) and rejects with the Problem of an
 * answer refused before the stream, of an `error` event, or of a stream
 * that ended without either.
 */
export async function sendMessage(url: string, content: string, h: TurnHandlers, signal?: AbortSignal): Promise<Turn> {
  const res = await sessionFetch(
    new Request(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ content }),
      signal,
    }),
  );
  if (!res.ok) throw await fromResponse(res);
  const ct = res.headers.get("Content-Type") ?? "";
  if (!ct.includes("text/event-stream") || !res.body) {
    // A server that answered the whole turn as JSON.
    const turn = (await res.json()) as Turn;
    turn.messages?.forEach(h.onMessage);
    turn.plans?.forEach(h.onPlan);
    return turn;
  }
  const rid = res.headers.get("X-Request-Id") ?? "";
  const reader = res.body.getReader();
  const text = new TextDecoder();
  const sse = new SSEParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const f of sse.push(text.decode(value, { stream: true }))) {
        const data = JSON.parse(f.data);
        switch (f.event) {
          case "message":
            h.onMessage(data as Message);
            break;
          case "delta":
            h.onDelta(String((data as { text?: string }).text ?? ""));
            break;
          case "plan":
            h.onPlan(data as Plan);
            break;
          case "done":
            return data as Turn;
          case "error":
            throw new Problem({ status: 500, ...(data as object) }, rid);
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  throw new Problem(
    { status: 0, type: "stream-ended", title: "The answer ended early", detail: "The connection closed before the turn ended. Reload the chat to see what it saved." },
    rid,
  );
}
