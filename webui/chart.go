package webui

import (
	"strconv"
	"time"

	"byokd.dev/byok"
)

// usageData is the usage page: totals, a chart by day and one by service,
// each with the numbers it draws.
type usageData struct {
	Month            string
	Personal, Team   byok.Spend
	Calls            int
	Days             []dayRow // every day of the month, for the chart
	ActiveDays       []dayRow // days with calls, for the table
	Services         []svcRow
	DayChart         dayChart
	ServiceChartRows int
}

type dayRow struct {
	Day            int
	Personal, Team byok.Spend // drawn by their known parts
	Calls          int
	// Geometry of the day's bar in the chart's coordinates.
	X, W, PY, PH, TY, TH int
}

type svcRow struct {
	Service        byok.Service
	Personal, Team byok.Spend // drawn by their known parts
	Calls          int
	// Geometry of the service's bar.
	Y, PW, TX, TW, LabelX int
}

// Chart sizes, in SVG user units.
const (
	chartW, chartH = 640, 180 // the day chart's plot area
	chartLeft      = 84       // room for the axis labels
	chartTop       = 10
	svcBarMax      = 300 // the longest service bar
	svcRowH        = 34
	svcLeft        = 100
)

type dayChart struct {
	Width, Height, Left, Top, Bottom int
	Max                              byok.Micros
	Ticks                            []tick
}

type tick struct {
	X     int
	Label string
}

// summarize adds up a month's calls by day and by service and lays out
// the charts. Amounts are what each call cost whoever paid.
func summarize(ev []byok.UsageEvent, from, to time.Time) usageData {
	days := int(to.Sub(from).Hours()/24 + 0.5)
	d := usageData{Month: from.Format("January 2006"), Days: make([]dayRow, days)}
	bySvc := map[byok.Service]*svcRow{}
	for i := range d.Days {
		d.Days[i].Day = i + 1
	}
	for _, e := range ev {
		i := e.Time.In(from.Location()).Day() - 1
		if i < 0 || i >= days {
			continue
		}
		s := bySvc[e.Service]
		if s == nil {
			s = &svcRow{Service: e.Service}
			bySvc[e.Service] = s
		}
		d.Calls++
		d.Days[i].Calls++
		s.Calls++
		if e.Payer == byok.PayerTeam {
			d.Team.Add(e.Cost, e.CostKnown)
			d.Days[i].Team.Add(e.Cost, e.CostKnown)
			s.Team.Add(e.Cost, e.CostKnown)
		} else {
			d.Personal.Add(e.Cost, e.CostKnown)
			d.Days[i].Personal.Add(e.Cost, e.CostKnown)
			s.Personal.Add(e.Cost, e.CostKnown)
		}
	}
	var max byok.Micros = 1
	for _, r := range d.Days {
		max = maxMicros(max, r.Personal.Known+r.Team.Known)
	}
	slot := chartW / days
	d.DayChart = dayChart{Width: chartLeft + chartW + 10, Height: chartTop + chartH + 30, Left: chartLeft, Top: chartTop, Bottom: chartTop + chartH, Max: max}
	for i := range d.Days {
		r := &d.Days[i]
		r.X, r.W = chartLeft+i*slot+2, slot-4
		r.PH = scale(r.Personal.Known, max, chartH)
		r.TH = scale(r.Team.Known, max, chartH)
		r.PY = chartTop + chartH - r.PH
		r.TY = r.PY - r.TH
		if r.Calls > 0 {
			d.ActiveDays = append(d.ActiveDays, *r)
		}
		if r.Day == 1 || r.Day%5 == 0 {
			d.DayChart.Ticks = append(d.DayChart.Ticks, tick{X: r.X + r.W/2, Label: strconv.Itoa(r.Day)})
		}
	}
	var smax byok.Micros = 1
	for _, svc := range byok.Services() {
		if s := bySvc[svc]; s != nil {
			smax = maxMicros(smax, s.Personal.Known+s.Team.Known)
		}
	}
	for i, svc := range byok.Services() {
		s := svcRow{Service: svc}
		if p := bySvc[svc]; p != nil {
			s = *p
		}
		s.Y = 8 + i*svcRowH
		s.PW = scale(s.Personal.Known, smax, svcBarMax)
		s.TX = svcLeft + s.PW
		s.TW = scale(s.Team.Known, smax, svcBarMax)
		s.LabelX = s.TX + s.TW + 8
		d.Services = append(d.Services, s)
	}
	d.ServiceChartRows = 16 + len(d.Services)*svcRowH
	return d
}

// scale maps v in [0, max] to [0, size], drawing any non-zero amount at
// least one unit tall so that it shows.
func scale(v, max byok.Micros, size int) int {
	if v <= 0 {
		return 0
	}
	return max1(int(int64(v) * int64(size) / int64(max)))
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func maxMicros(a, b byok.Micros) byok.Micros {
	if a > b {
		return a
	}
	return b
}
