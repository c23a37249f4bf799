// Package fakeprovider runs local stand-ins for the OpenAI, Anthropic and
// ClickUp APIs that answer in the providers' exact formats: the same JSON
// bodies, SSE event sequences, headers and error bodies. Tests and
// benchmarks point byokd's upstream overrides at Server.URL; since the
// real APIs cannot be reached from here, everything else trusts this
// package to speak their formats, and its own tests (and the official
// SDKs, through e2e/sdk) check that it does.
//
// Endpoints: OpenAI POST /v1/chat/completions, /v1/responses,
// /v1/embeddings and GET /v1/models; Anthropic POST /v1/messages,
// /v1/messages/count_tokens and GET /v1/models; ClickUp GET /api/v2/team
// and /api/v2/task/{id}. Any non-empty key is accepted and recorded; a
// missing one gets the provider's own error. Server.FailNext injects the
// providers' real failures (see the functions returning Failure).
package fakeprovider
