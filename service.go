package byok

import "fmt"

// Service names a provider API that byokd proxies. The zero value is invalid.
type Service string

// The services byokd knows. Their string forms are the proxy's route
// prefixes and the names users type on the command line.
const (
	OpenAI    Service = "openai"
	Anthropic Service = "anthropic"
	ClickUp   Service = "clickup"
)

// Services lists every known service in display order.
func Services() []Service { return []Service{OpenAI, Anthropic, ClickUp} }

// ParseService returns the service named s, or an error listing the valid names.
func ParseService(s string) (Service, error) {
	for _, svc := range Services() {
		if string(svc) == s {
			return svc, nil
		}
	}
	return "", fmt.Errorf("unknown service %q: use openai, anthropic or clickup", s)
}

// DefaultUpstream is the provider's public base URL.
func (s Service) DefaultUpstream() string {
	switch s {
	case OpenAI:
		return "https://api.openai.com"
	case Anthropic:
		return "https://api.anthropic.com"
	case ClickUp:
		return "https://api.clickup.com"
	}
	return ""
}

// Title is the service's name for people.
func (s Service) Title() string {
	switch s {
	case OpenAI:
		return "OpenAI"
	case Anthropic:
		return "Anthropic"
	case ClickUp:
		return "ClickUp"
	}
	return string(s)
}
