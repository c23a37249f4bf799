package teamsync

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// HubURL checks a hub's base URL and returns it normalised (https or http,
// no trailing slash). A plain-http hub that is not on loopback is refused
// unless insecure: the device credential and usage would travel in clear.
func HubURL(raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("hub URL %q: give the hub's address, such as https://hub.example.com:8443", raw)
	}
	switch u.Scheme {
	case "https", "wss":
		u.Scheme = "https"
	case "http", "ws":
		u.Scheme = "http"
		if !insecure && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("hub URL %s is plain http on a host that is not this machine: "+
				"the device credential and usage would travel unencrypted; use https://, or pass --insecure on a network you trust", u.Redacted())
		}
	default:
		return nil, fmt.Errorf("hub URL %q: use https:// (or http:// for a hub on this machine)", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("hub URL must not carry a user name or password")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// endpoint returns base + path.
func endpoint(base *url.URL, path string) string {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String()
}
