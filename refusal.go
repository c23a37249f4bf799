package byok

// Refusal is an answer byokd gives itself instead of a provider's: a call
// refused by the proxy, the router or the hub's relay. It is written in the
// provider's own error shape with HTTP status Status, so that SDKs print
// Message, which starts with "byokd:" (or "byokd hub:") and says what to do
// next. Code is for programs and the ledger, e.g. "budget_blocked".
type Refusal struct {
	Status  int
	Code    string
	Message string
}

// Error returns the message, so a Refusal can travel as an error.
func (r *Refusal) Error() string { return r.Message }
