package ledger

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// Run with: go test -run '^$' -bench Record -benchtime 3s ./ledger/

func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	d, _ := openTemp(b)
	ev := event(1)
	for i := 0; b.Loop(); i++ {
		ev.ID = fmt.Sprintf("bench-%d", i)
		if err := d.Record(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	reportRecord(b, d)
}

func BenchmarkRecordParallel(b *testing.B) {
	ctx := context.Background()
	d, _ := openTemp(b)
	var next atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS callers, as a busy proxy would have
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ev := event(1)
		for pb.Next() {
			ev.ID = fmt.Sprintf("bench-%d", next.Add(1))
			if err := d.Record(ctx, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRecord(b, d)
}

func reportRecord(b *testing.B, d *DB) {
	st := d.Stats()
	b.ReportMetric(float64(st.Rows)/b.Elapsed().Seconds(), "rows/s")
	if st.Commits > 0 {
		b.ReportMetric(float64(st.Rows)/float64(st.Commits), "rows/commit")
	}
}
