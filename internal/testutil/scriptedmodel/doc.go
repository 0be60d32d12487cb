// Package scriptedmodel is a scripted OpenAI-compatible model server: a
// TEST DOUBLE standing in for a language model, because no model weights
// can run on the machines the tests run on. It answers
// POST /v1/chat/completions (server-sent chunks exactly as OpenAI streams
// them, the usage chunk with empty choices when stream_options.include_usage
// is set, then data: [DONE]; or one JSON completion when stream is false)
// and GET /v1/models, playing fixed turns: each request is answered by the
// first turn not yet played whose condition matches it (text, tool calls
// split across chunks, provider errors, raw malformed streams), and a request
// no turn matches gets an HTTP 500 problem so that a test sees its script ran
// out.
//
// It records what it received (Requests, to assert for instance that no
// message carries a credential), how long it took to answer each request
// (Request.Served, from its arrival to the answer's last byte flushed: the
// model's share of a caller's time, which hack/aibench subtracts from a
// turn's) and when it flushed each content chunk (SentAt, to measure how
// soon the platform forwards the first token).
// Tests start it with Start on 127.0.0.1; hack/scriptedmodel runs it as a
// separate process from a JSON script (ParseScript) for the end-to-end and
// browser tests, which can also replace the script and read what it
// received over HTTP under /_scripted/.
package scriptedmodel
