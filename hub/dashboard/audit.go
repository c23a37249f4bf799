package dashboard

import (
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/url"
	"slices"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// auditPageSize is how many calls an audit page shows.
const auditPageSize = 50

type auditData struct {
	Filter   auditFilter
	Rows     []byok.UsageEvent
	Next     template.URL // the next (older) page, or empty; built by url.Values.Encode
	Members  []string
	Services []string
}

// auditFilter is the audit page's form, as the request gave it.
type auditFilter struct {
	Member, Service, Payer, Project, Model string
	Fallback                               bool
}

// cursorJSON is a Cursor in a link: opaque to people, read back as is.
type cursorJSON struct {
	T int64  `json:"t"`
	M string `json:"m"`
	I string `json:"i"`
}

func encodeCursor(e byok.UsageEvent) string {
	b, _ := json.Marshal(cursorJSON{T: e.Time.UnixMicro(), M: e.Member, I: e.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) hub.Cursor {
	var c cursorJSON
	b, err := base64.RawURLEncoding.DecodeString(s)
	if s == "" || err != nil || json.Unmarshal(b, &c) != nil || c.T == 0 {
		return hub.Cursor{}
	}
	return hub.Cursor{Time: time.UnixMicro(c.T).UTC(), Member: c.M, ID: c.I}
}

func (p *Pages) audit(r *request) (string, any, error) {
	q := r.URL.Query()
	af := auditFilter{Member: q.Get("member"), Service: q.Get("service"), Payer: q.Get("payer"),
		Project: q.Get("project"), Model: q.Get("model"), Fallback: q.Get("fallback") == "1"}
	f := r.scope(hub.UsageFilter{From: r.period.From, To: r.period.To, Member: af.Member, Service: byok.Service(af.Service),
		Payer: byok.Payer(af.Payer), Project: af.Project, Model: af.Model, Fallback: af.Fallback})
	af.Member = f.Member
	rows, err := p.store.Audit(r.Context(), f, decodeCursor(q.Get("after")), auditPageSize+1)
	if err != nil {
		return "", nil, err
	}
	d := auditData{Filter: af, Rows: rows}
	for _, svc := range byok.Services() {
		d.Services = append(d.Services, string(svc))
	}
	if len(rows) > auditPageSize {
		d.Rows = rows[:auditPageSize]
		next := url.Values{}
		for k, v := range map[string]string{"period": r.period.Key, "member": af.Member, "service": af.Service,
			"payer": af.Payer, "project": af.Project, "model": af.Model} {
			if v != "" {
				next.Set(k, v)
			}
		}
		if af.Fallback {
			next.Set("fallback", "1")
		}
		next.Set("after", encodeCursor(d.Rows[auditPageSize-1]))
		d.Next = template.URL("/ui/audit?" + next.Encode())
	}
	if r.viewer.Admin {
		ms, err := p.store.Aggregate(r.Context(), hub.UsageFilter{From: r.period.From, To: r.period.To}, hub.DimMember)
		if err != nil {
			return "", nil, err
		}
		for _, g := range ms {
			d.Members = append(d.Members, g.Keys[0])
		}
		slices.Sort(d.Members)
	}
	return "Audit log", d, nil
}
