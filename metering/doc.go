// Package metering learns what each proxied call consumed and what it cost.
//
// It reads a request body before it is sent (Inspect), watches the response
// as it streams back to the client (Meter), and prices the result (Prices).
// It knows the exact wire formats of OpenAI chat completions, the Responses
// API and embeddings, Anthropic messages (JSON and server-sent events), and
// counts ClickUp calls.
//
// Metering sits on the proxy's hot path, so it parses incrementally: a Meter
// keeps only a few small fixed buffers per response, whatever the body's
// size, never holds back bytes the client is waiting for (except whole-event
// buffering when it must hide a usage report that the proxy itself asked
// for), and allocates nothing per chunk in steady state. Money is integer
// micro-USD, rounded once. Apart from LoadPrices, nothing here does I/O.
package metering
