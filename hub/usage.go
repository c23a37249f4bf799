package hub

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// usage is GET /v1/usage: a device credential reads its member's rows, an
// admin session everyone's. The range is ?month=YYYY-MM or ?from=&to=
// (RFC 3339); default the current month.
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	f, err := usageRange(r.URL.Query(), s.cfg.Now())
	if err != nil {
		writeErr(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if dev, ok := s.device(r); ok {
		f.Member = dev.Member
	} else if _, ok := s.admin(r); !ok {
		writeErr(w, http.StatusUnauthorized, "unauthorized",
			"byokd hub: give a device credential (`byokd join`) or sign in as admin (`byokd hub admin create EMAIL`)")
		return
	}
	evs, err := s.cfg.Store.Usage(r.Context(), f)
	reply(s.log, w, evs, err)
}

// usageRange reads ?month= or ?from=&to=.
func usageRange(q url.Values, now time.Time) (UsageFilter, error) {
	if m := q.Get("month"); m != "" {
		t, err := time.Parse("2006-01", m)
		if err != nil {
			return UsageFilter{}, fmt.Errorf("byokd hub: month must look like 2026-01")
		}
		return UsageFilter{From: t, To: t.AddDate(0, 1, 0)}, nil
	}
	from := monthStart(now)
	f := UsageFilter{From: from, To: from.AddDate(0, 1, 0)}
	var err error
	if v := q.Get("from"); v != "" {
		if f.From, err = time.Parse(time.RFC3339, v); err != nil {
			return f, fmt.Errorf("byokd hub: from must be an RFC 3339 time")
		}
	}
	if v := q.Get("to"); v != "" {
		if f.To, err = time.Parse(time.RFC3339, v); err != nil {
			return f, fmt.Errorf("byokd hub: to must be an RFC 3339 time")
		}
	}
	return f, nil
}
