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
	Older    template.URL // the next older page, or empty; built by url.Values.Encode
	Newer    template.URL // the next newer page, or empty
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
	N bool   `json:"n,omitempty"`
}

func encodeCursor(e byok.UsageEvent, newer bool) string {
	b, _ := json.Marshal(cursorJSON{T: e.Time.UnixMicro(), M: e.Member, I: e.ID, N: newer})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) hub.Cursor {
	var c cursorJSON
	b, err := base64.RawURLEncoding.DecodeString(s)
	if s == "" || err != nil || json.Unmarshal(b, &c) != nil || c.T == 0 {
		return hub.Cursor{}
	}
	return hub.Cursor{Time: time.UnixMicro(c.T).UTC(), Member: c.M, ID: c.I, Newer: c.N}
}

func (p *Pages) audit(r *request) (string, any, error) {
	q := r.URL.Query()
	af := auditFilter{Member: q.Get("member"), Service: q.Get("service"), Payer: q.Get("payer"),
		Project: q.Get("project"), Model: q.Get("model"), Fallback: q.Get("fallback") == "1"}
	f := r.scope(hub.UsageFilter{From: r.period.From, To: r.period.To, Member: af.Member, Service: byok.Service(af.Service),
		Payer: byok.Payer(af.Payer), Project: af.Project, Model: af.Model, Fallback: af.Fallback})
	af.Member = f.Member
	at := decodeCursor(q.Get("at"))
	rows, err := p.store.Audit(r.Context(), f, at, auditPageSize+1)
	if err != nil {
		return "", nil, err
	}
	d := auditData{Filter: af}
	for _, svc := range byok.Services() {
		d.Services = append(d.Services, string(svc))
	}
	// One row more than a page says whether there are more that way: the
	// oldest row when going older, the newest when going newer.
	more := len(rows) > auditPageSize
	if more && at.Newer {
		rows = rows[1:]
	} else if more {
		rows = rows[:auditPageSize]
	}
	d.Rows = rows
	link := func(e byok.UsageEvent, newer bool) template.URL {
		v := url.Values{}
		for k, val := range map[string]string{"period": r.period.Key, "member": af.Member, "service": af.Service,
			"payer": af.Payer, "project": af.Project, "model": af.Model} {
			if val != "" {
				v.Set(k, val)
			}
		}
		if af.Fallback {
			v.Set("fallback", "1")
		}
		v.Set("at", encodeCursor(e, newer))
		return template.URL("/ui/audit?" + v.Encode())
	}
	if len(rows) > 0 {
		if more || at.Newer {
			d.Older = link(rows[len(rows)-1], false)
		}
		if more && at.Newer || !at.Newer && !at.Time.IsZero() {
			d.Newer = link(rows[0], true)
		}
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
