package routing

import (
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"byokd.dev/byok"
)

// go test -run '^$' -bench . -benchmem ./routing/

func BenchmarkDecide(b *testing.B) {
	cases := []struct {
		name string
		in   Input
	}{
		{"one key", base()},
		{"three keys, primary cooling, fallback", with(func(in *Input) {
			in.Fallback = true
			in.Keys = []KeyState{{Name: "side"}, {Name: "work", Primary: true, CoolingUntil: t0.Add(time.Minute)}, {Name: "old"}}
		})},
		{"refusal", with(func(in *Input) { in.Keys = nil; in.Policy.SharedServices = nil })},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				Decide(c.in)
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	for _, file := range []string{
		"openai_429_insufficient_quota.http",
		"anthropic_400_credit_balance_too_low.http",
		"clickup_429_rate_limit_reached.http",
	} {
		svc, f := readFailure(b, file)
		b.Run(file, func(b *testing.B) {
			for b.Loop() {
				Classify(svc, f, false)
			}
		})
	}
	b.Run("connection refused", func(b *testing.B) {
		f := Failure{ConnErr: errRefused}
		for b.Loop() {
			Classify(byok.OpenAI, f, false)
		}
	})
}

var errRefused error = &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
