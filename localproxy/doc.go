// Package localproxy is the loopback HTTP proxy that apps point their base
// URL at. For each call it checks the caller (Host, Origin, app token), asks
// a Planner which credentials to try, signs the request with each in turn
// until one may answer, streams the response back unbuffered while metering
// it, and commits the call's usage row before the response's last byte is
// released to the client.
//
// Routes: /openai/… → the OpenAI upstream, /anthropic/… → Anthropic,
// /clickup/… → ClickUp. A Proxy is safe for concurrent use.
package localproxy
