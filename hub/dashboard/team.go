package dashboard

import (
	"cmp"
	"slices"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// memberRow is a member on the members page.
type memberRow struct {
	Email     string
	Devices   []deviceRow
	LastSync  time.Time
	Services  []memberService
	NoKeys    bool // no personal key for any service: the admin's to-do
	Spend     split
	TeamShare string
}

type deviceRow struct {
	hub.Device
	Connected bool
}

// memberService is what a member's devices reported for one service.
type memberService struct {
	Service    string
	HasKey     bool
	Keys       int
	Budget     byok.Micros // the sum of the keys' monthly budgets
	Preference string
}

type membersData struct {
	Members     []memberRow
	Team        byok.Spend
	DefaultPref byok.Preference
}

func (p *Pages) members(r *request) (string, any, error) {
	ctx := r.Context()
	devs, err := p.store.Devices(ctx)
	if err != nil {
		return "", nil, err
	}
	invs, err := p.store.Inventories(ctx)
	if err != nil {
		return "", nil, err
	}
	spend, err := p.store.Aggregate(ctx, r.scope(hub.UsageFilter{From: r.period.From, To: r.period.To}), hub.DimMember, hub.DimPayer)
	if err != nil {
		return "", nil, err
	}
	// The share of team spend is the admin's column: a member's page sums
	// nothing but the member's own rows.
	team, err := p.store.Aggregate(ctx, r.scope(hub.UsageFilter{From: r.period.From, To: r.period.To, Payer: byok.PayerTeam}))
	if err != nil {
		return "", nil, err
	}
	conn := p.hub.Connected()
	rows := map[string]*memberRow{}
	row := func(email string) *memberRow {
		if rows[email] == nil {
			rows[email] = &memberRow{Email: email}
		}
		return rows[email]
	}
	mine := func(email string) bool { return r.viewer.Admin || email == r.viewer.Email }
	for _, d := range devs {
		if mine(d.Member) {
			m := row(d.Member)
			m.Devices = append(m.Devices, deviceRow{Device: d, Connected: conn[d.ID] > 0})
			if d.LastSeen.After(m.LastSync) {
				m.LastSync = d.LastSeen
			}
		}
	}
	for _, inv := range invs {
		if !mine(inv.Member) {
			continue
		}
		m := row(inv.Member)
		for _, sk := range inv.Inventory.Services {
			i := slices.IndexFunc(m.Services, func(s memberService) bool { return s.Service == string(sk.Service) })
			if i < 0 {
				m.Services = append(m.Services, memberService{Service: string(sk.Service)})
				i = len(m.Services) - 1
			}
			ms := &m.Services[i]
			ms.HasKey = ms.HasKey || sk.HasPersonalKey
			ms.Keys += len(sk.Keys)
			for _, k := range sk.Keys {
				ms.Budget += k.Budget
			}
			if sk.Preference != "" {
				ms.Preference = string(sk.Preference)
			}
		}
	}
	for _, g := range spend {
		row(g.Keys[0]).Spend.add(g, g.Keys[1])
	}
	d := membersData{Team: team[0].Spend(), DefaultPref: p.hub.Policy().DefaultPreference}
	for _, m := range rows {
		m.NoKeys = !slices.ContainsFunc(m.Services, func(s memberService) bool { return s.HasKey })
		m.TeamShare = pct(m.Spend.Team.Known, d.Team.Known)
		d.Members = append(d.Members, *m)
	}
	slices.SortFunc(d.Members, func(a, b memberRow) int { return cmp.Compare(a.Email, b.Email) })
	return "Members", d, nil
}

// sharedData is the shared keys page.
type sharedData struct {
	Keys      []sharedKeyRow
	Members   barChart // team spend by member: the heavy users first
	Fallbacks []fallbackRow
	Cap       byok.Micros
	CapMonth  string
	CapRows   []capRow
	Total     split
}

type sharedKeyRow struct {
	hub.SharedKey
	Calls   int64
	Cost    byok.Spend
	Members []hub.Group // Keys: credential, member
}

type fallbackRow struct {
	Member, Reason string
	Calls          int64
	Cost           byok.Spend
}

type capRow struct {
	Member string
	Spend  byok.Spend
	Share  string
	Over   bool
}

func (p *Pages) shared(r *request) (string, any, error) {
	ctx := r.Context()
	f := r.scope(hub.UsageFilter{From: r.period.From, To: r.period.To, Payer: byok.PayerTeam})
	keys, err := p.store.SharedKeys(ctx)
	if err != nil {
		return "", nil, err
	}
	byKey, err := p.store.Aggregate(ctx, f, hub.DimCredential, hub.DimMember)
	if err != nil {
		return "", nil, err
	}
	d := sharedData{Cap: p.hub.Policy().MemberMonthlyCap}
	for _, k := range keys {
		row := sharedKeyRow{SharedKey: k}
		for _, g := range byKey {
			if g.Keys[0] == k.Ref().String() {
				row.Calls += g.Calls
				row.Cost = row.Cost.Plus(g.Spend())
				row.Members = append(row.Members, g)
			}
		}
		d.Keys = append(d.Keys, row)
	}
	members, err := p.store.Aggregate(ctx, f, hub.DimMember)
	if err != nil {
		return "", nil, err
	}
	var rows []barRow
	for _, g := range members {
		rows = append(rows, barRow{Label: g.Keys[0], Team: g.Spend(), Calls: g.Calls})
		d.Total.Team = d.Total.Team.Plus(g.Spend())
		d.Total.Calls += g.Calls
	}
	d.Members = newBarChart(rows)
	fb := r.scope(hub.UsageFilter{From: r.period.From, To: r.period.To, Fallback: true})
	reasons, err := p.store.Aggregate(ctx, fb, hub.DimMember, hub.DimFallback)
	if err != nil {
		return "", nil, err
	}
	for _, g := range reasons {
		d.Fallbacks = append(d.Fallbacks, fallbackRow{Member: g.Keys[0], Reason: g.Keys[1], Calls: g.Calls, Cost: g.Spend()})
	}
	// The cap is monthly: each member's team spend this calendar month.
	cur := month(p.now().UTC())
	d.CapMonth = cur.Label
	capSpend, err := p.store.Aggregate(ctx, r.scope(hub.UsageFilter{From: cur.From, To: cur.To, Payer: byok.PayerTeam}), hub.DimMember)
	if err != nil {
		return "", nil, err
	}
	for _, g := range capSpend {
		d.CapRows = append(d.CapRows, capRow{Member: g.Keys[0], Spend: g.Spend(), Share: pct(g.Cost, d.Cap), Over: d.Cap > 0 && g.Cost >= d.Cap})
	}
	return "Shared keys", d, nil
}

// projectsData is spend by project tag, each with its members.
type projectsData struct {
	Chart    barChart
	Projects []projectRow
	Total    split
}

type projectRow struct {
	Project string
	Spend   split
	Members []memberSpend
}

type memberSpend struct {
	Member string
	Spend  split
}

func (p *Pages) projects(r *request) (string, any, error) {
	gs, err := p.store.Aggregate(r.Context(), r.scope(hub.UsageFilter{From: r.period.From, To: r.period.To}),
		hub.DimProject, hub.DimMember, hub.DimPayer)
	if err != nil {
		return "", nil, err
	}
	var d projectsData
	byProject := map[string]*projectRow{}
	for _, g := range gs {
		pr := byProject[g.Keys[0]]
		if pr == nil {
			pr = &projectRow{Project: g.Keys[0]}
			byProject[g.Keys[0]] = pr
		}
		pr.Spend.add(g, g.Keys[2])
		d.Total.add(g, g.Keys[2])
		i := slices.IndexFunc(pr.Members, func(m memberSpend) bool { return m.Member == g.Keys[1] })
		if i < 0 {
			pr.Members = append(pr.Members, memberSpend{Member: g.Keys[1]})
			i = len(pr.Members) - 1
		}
		pr.Members[i].Spend.add(g, g.Keys[2])
	}
	var rows []barRow
	for _, pr := range byProject {
		slices.SortFunc(pr.Members, func(a, b memberSpend) int { return cmp.Compare(b.Spend.Total().Known, a.Spend.Total().Known) })
		d.Projects = append(d.Projects, *pr)
	}
	slices.SortFunc(d.Projects, func(a, b projectRow) int {
		return cmp.Or(cmp.Compare(b.Spend.Total().Known, a.Spend.Total().Known), cmp.Compare(a.Project, b.Project))
	})
	for _, pr := range d.Projects {
		rows = append(rows, barRow{Label: orNone(pr.Project), Personal: pr.Spend.Personal, Team: pr.Spend.Team, Calls: pr.Spend.Calls})
	}
	d.Chart = newBarChart(rows)
	return "Projects", d, nil
}
