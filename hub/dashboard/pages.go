package dashboard

import (
	"cmp"
	"slices"
	"strconv"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// split is an amount by payer.
type split struct {
	Personal, Team byok.Spend
	Calls          int64
}

func (s split) Total() byok.Spend { return s.Personal.Plus(s.Team) }

func (s *split) add(g hub.Group, payer string) {
	if byok.Payer(payer) == byok.PayerTeam {
		s.Team = s.Team.Plus(g.Spend())
	} else {
		s.Personal = s.Personal.Plus(g.Spend())
	}
	s.Calls += g.Calls
}

// bySplit sums groups whose last key is the payer by their other keys,
// in order of first appearance (Aggregate's: largest cost first).
func bySplit(gs []hub.Group) ([]string, map[string]*split) {
	var order []string
	m := map[string]*split{}
	for _, g := range gs {
		k := g.Keys[0]
		if m[k] == nil {
			m[k] = &split{}
			order = append(order, k)
		}
		m[k].add(g, g.Keys[len(g.Keys)-1])
	}
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(m[b].Total().Known, m[a].Total().Known) })
	return order, m
}

func barRows(order []string, m map[string]*split, label func(string) string) []barRow {
	out := make([]barRow, 0, len(order))
	for _, k := range order {
		out = append(out, barRow{Label: label(k), Personal: m[k].Personal, Team: m[k].Team, Calls: m[k].Calls})
	}
	return out
}

// serviceTitle names a service for people ("OpenAI").
func serviceTitle(s string) string {
	if svc, err := byok.ParseService(s); err == nil {
		return svc.Title()
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

type overviewData struct {
	Total        split
	Services     barChart
	Models       []modelRow
	Days         dayChart
	ActiveDays   []dayBar
	Prev         period
	PrevTeam     byok.Spend
	TeamChange   string
	TeamChangeUp bool
	Empty        bool
}

type modelRow struct {
	Service, Model string
	Calls          int64
	Tokens         int64
	Cost           byok.Spend
}

func (p *Pages) overview(r *request) (string, any, error) {
	ctx := r.Context()
	f := r.scope(hub.UsageFilter{From: r.period.From, To: r.period.To})
	d := overviewData{Prev: r.period.prev()}
	svc, err := p.store.Aggregate(ctx, f, hub.DimService, hub.DimPayer)
	if err != nil {
		return "", nil, err
	}
	for _, g := range svc {
		d.Total.add(g, g.Keys[1])
	}
	d.Empty = d.Total.Calls == 0
	order, m := bySplit(svc)
	d.Services = newBarChart(barRows(order, m, serviceTitle))
	models, err := p.store.Aggregate(ctx, f, hub.DimService, hub.DimModel)
	if err != nil {
		return "", nil, err
	}
	for _, g := range models {
		d.Models = append(d.Models, modelRow{Service: g.Keys[0], Model: orNone(g.Keys[1]), Calls: g.Calls, Tokens: g.Tokens(), Cost: g.Spend()})
	}
	days, err := p.store.Aggregate(ctx, f, hub.DimDay, hub.DimPayer)
	if err != nil {
		return "", nil, err
	}
	personal, team := map[string]byok.Spend{}, map[string]byok.Spend{}
	for _, g := range days {
		if byok.Payer(g.Keys[1]) == byok.PayerTeam {
			team[g.Keys[0]] = team[g.Keys[0]].Plus(g.Spend())
		} else {
			personal[g.Keys[0]] = personal[g.Keys[0]].Plus(g.Spend())
		}
	}
	d.Days = newDayChart(r.period, personal, team)
	for _, b := range d.Days.Days {
		if b.Personal.Plus(b.Team) != (byok.Spend{}) {
			d.ActiveDays = append(d.ActiveDays, b)
		}
	}
	pf := f
	pf.From, pf.To, pf.Payer = d.Prev.From, d.Prev.To, byok.PayerTeam
	prev, err := p.store.Aggregate(ctx, pf)
	if err != nil {
		return "", nil, err
	}
	d.PrevTeam = prev[0].Spend()
	d.TeamChange, d.TeamChangeUp = change(d.Total.Team.Known, d.PrevTeam.Known)
	return "Overview", d, nil
}

// change describes now against before, in words and a percentage.
func change(now, before byok.Micros) (string, bool) {
	switch {
	case before == 0 && now == 0:
		return "no change", false
	case before == 0:
		return "up from nothing", true
	}
	pct := (float64(now) - float64(before)) / float64(before) * 100
	if pct >= 0 {
		return "up " + fmtPct(pct), pct > 0
	}
	return "down " + fmtPct(-pct), false
}

func fmtPct(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }

// pct is part's share of whole, for display.
func pct(part, whole byok.Micros) string {
	if whole <= 0 {
		return "–"
	}
	return fmtPct(float64(part) / float64(whole) * 100)
}
