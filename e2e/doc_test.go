// Package e2e runs the real byokd binary as a member would: the daemon in
// its own process, the CLI, and the official OpenAI and Anthropic SDKs as
// clients, in front of local upstreams that speak the providers' formats.
package e2e
