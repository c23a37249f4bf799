package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`a = ? AND b = ?`, `a = $1 AND b = $2`},
		{`a = '?' AND b = ? AND c = 'it''s?' AND d = ?`, `a = '?' AND b = $1 AND c = 'it''s?' AND d = $2`},
	} {
		if got := Rebind(c.in); got != c.want {
			t.Errorf("Rebind(%q): got %q, want %q", c.in, got, c.want)
		}
	}
}
