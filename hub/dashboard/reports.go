package dashboard

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
)

// reportDims are a report's rows: one per member × service × payer ×
// project, on the page and in the CSV alike.
var reportDims = []hub.Dim{hub.DimMember, hub.DimService, hub.DimPayer, hub.DimProject}

type reportData struct {
	Rows  []hub.Group
	Total hub.Group
	Split split
}

func (p *Pages) report(r *request) (reportData, error) {
	gs, err := p.store.Aggregate(r.Context(), r.scope(hub.UsageFilter{From: r.period.From, To: r.period.To}), reportDims...)
	if err != nil {
		return reportData{}, err
	}
	d := reportData{Rows: gs}
	for _, g := range gs {
		d.Total.Calls += g.Calls
		d.Total.Cost += g.Cost
		d.Total.UnknownCost += g.UnknownCost
		d.Total.InputTokens += g.InputTokens
		d.Total.OutputTokens += g.OutputTokens
		d.Total.CacheReadTokens += g.CacheReadTokens
		d.Total.CacheWriteTokens += g.CacheWriteTokens
		d.Total.Requests += g.Requests
		d.Split.add(g, g.Keys[2])
	}
	return d, nil
}

func (p *Pages) reports(r *request) (string, any, error) {
	d, err := p.report(r)
	return "Report", d, err
}

// reportCSV is the report as CSV, for a spreadsheet or a client's invoice.
func (p *Pages) reportCSV(r *request) {
	d, err := p.report(r)
	if err != nil {
		p.log.Error("report failed", "err", err)
		http.Error(r.w, "byokd hub: the report could not be read from the hub's database; the hub's log says why", http.StatusInternalServerError)
		return
	}
	h := r.w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="byokd-report-%s.csv"`, r.period.Key))
	cw := csv.NewWriter(r.w)
	_ = cw.Write([]string{"period", "member", "service", "payer", "project", "calls", "input_tokens", "output_tokens",
		"cache_read_tokens", "cache_write_tokens", "requests", "cost_usd", "unknown_cost_calls"})
	for _, g := range d.Rows {
		_ = cw.Write(append([]string{r.period.Key}, append(csvSafe(g.Keys), count(g.Calls), count(g.InputTokens), count(g.OutputTokens),
			count(g.CacheReadTokens), count(g.CacheWriteTokens), count(g.Requests), csvCost(g), count(g.UnknownCost))...))
	}
	cw.Flush()
}

func count(n int64) string { return strconv.FormatInt(n, 10) }

// csvCost is the known cost, or "unknown" where no call's cost is known:
// a spreadsheet must not sum an unknown as 0.
func csvCost(g hub.Group) string {
	if g.Cost == 0 && g.UnknownCost > 0 {
		return "unknown"
	}
	return usd(g.Cost)
}

// usd is an exact decimal amount in dollars, "12.345678".
func usd(m byok.Micros) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%06d", sign, m/1e6, m%1e6)
}

// csvSafe keeps a spreadsheet from reading a member's project tag as a
// formula (CSV injection): a leading = + - @ gets a quote.
func csvSafe(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		if k != "" && (k[0] == '=' || k[0] == '+' || k[0] == '-' || k[0] == '@' || k[0] == '\t' || k[0] == '\r') {
			k = "'" + k
		}
		out[i] = k
	}
	return out
}
