package dashboard

import (
	"strings"

	"byokd.dev/byok"
)

// Charts are drawn in SVG user units; each is shown with a table or
// labels carrying its numbers.
const (
	barLeft  = 170 // room for a bar's label
	barMax   = 360 // the longest bar
	barRowH  = 26
	dayLeft  = 90 // room for the axis labels
	dayW     = 640
	dayH     = 160
	dayTop   = 10
	dayBelow = 28
)

// barRow is one bar of a horizontal bar chart: personal and team parts.
type barRow struct {
	Label          string
	Personal, Team byok.Spend // drawn by their known parts
	Calls          int64
}

// Note is the row's amounts as its bar's label says them.
func (r barRow) Note() string {
	var parts []string
	for _, s := range []byok.Spend{r.Personal, r.Team} {
		if !s.IsZero() {
			parts = append(parts, s.String())
		}
	}
	if len(parts) == 0 {
		return "$0"
	}
	return strings.Join(parts, " + ")
}

// bar is a barRow laid out.
type bar struct {
	barRow
	Y, PW, TX, TW, NoteX int
}

// barChart lays rows out as stacked horizontal bars, longest scaled to
// barMax.
type barChart struct {
	Bars          []bar
	Width, Height int
	Left          int
}

func newBarChart(rows []barRow) barChart {
	var max byok.Micros = 1
	for _, r := range rows {
		max = maxMicros(max, r.Personal.Known+r.Team.Known)
	}
	c := barChart{Width: barLeft + barMax + 260, Height: len(rows)*barRowH + 8, Left: barLeft}
	for i, r := range rows {
		b := bar{barRow: r, Y: 4 + i*barRowH}
		b.PW = scale(r.Personal.Known, max, barMax)
		b.TX = barLeft + b.PW
		b.TW = scale(r.Team.Known, max, barMax)
		b.NoteX = b.TX + b.TW + 8
		c.Bars = append(c.Bars, b)
	}
	return c
}

// dayChart is spend by day over a period: personal below, team above.
type dayChart struct {
	Days                            []dayBar
	Width, Height, Left, Top, Floor int
	Max                             byok.Micros
	Ticks                           []tick
}

type dayBar struct {
	Date                 string
	Personal, Team       byok.Spend // drawn by their known parts
	X, W, PY, PH, TY, TH int
}

type tick struct {
	X     int
	Label string
}

func newDayChart(p period, personal, team map[string]byok.Spend) dayChart {
	n := p.Days()
	slot := dayW / n
	c := dayChart{Width: dayLeft + slot*n + 10, Height: dayTop + dayH + dayBelow, Left: dayLeft, Top: dayTop, Floor: dayTop + dayH, Max: 1}
	for i := range n {
		d := p.From.AddDate(0, 0, i).Format("2006-01-02")
		c.Max = maxMicros(c.Max, personal[d].Known+team[d].Known)
	}
	for i := range n {
		day := p.From.AddDate(0, 0, i)
		d := day.Format("2006-01-02")
		b := dayBar{Date: d, Personal: personal[d], Team: team[d], X: dayLeft + i*slot + 1, W: max(slot-2, 1)}
		b.PH = scale(b.Personal.Known, c.Max, dayH)
		b.TH = scale(b.Team.Known, c.Max, dayH)
		b.PY = c.Floor - b.PH
		b.TY = b.PY - b.TH
		c.Days = append(c.Days, b)
		if day.Day() == 1 || (n <= 31 && day.Day()%5 == 0) {
			c.Ticks = append(c.Ticks, tick{X: b.X + b.W/2, Label: day.Format("2 Jan")})
		}
	}
	return c
}

// scale maps v in [0, max] to [0, size], drawing a non-zero amount at
// least one unit long so that it shows.
func scale(v, max byok.Micros, size int) int {
	if v <= 0 {
		return 0
	}
	return int(max64(int64(v)*int64(size)/int64(max), 1))
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func maxMicros(a, b byok.Micros) byok.Micros { return byok.Micros(max64(int64(a), int64(b))) }
