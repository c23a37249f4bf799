package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
)

// TestAPI_TakesNoSecret checks that no exported method of DB accepts or
// returns a byok.Secret, anywhere inside its parameter and result types.
func TestAPI_TakesNoSecret(t *testing.T) {
	secret := reflect.TypeFor[byok.Secret]()
	var holds func(typ reflect.Type, seen map[reflect.Type]bool) bool
	holds = func(typ reflect.Type, seen map[reflect.Type]bool) bool {
		if typ == secret {
			return true
		}
		if seen[typ] {
			return false
		}
		seen[typ] = true
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
			return holds(typ.Elem(), seen)
		case reflect.Map:
			return holds(typ.Key(), seen) || holds(typ.Elem(), seen)
		case reflect.Struct:
			for i := range typ.NumField() {
				if holds(typ.Field(i).Type, seen) {
					return true
				}
			}
		case reflect.Func:
			for i := range typ.NumIn() {
				if holds(typ.In(i), seen) {
					return true
				}
			}
			for i := range typ.NumOut() {
				if holds(typ.Out(i), seen) {
					return true
				}
			}
		}
		return false
	}
	dbType := reflect.TypeFor[*DB]()
	if dbType.NumMethod() < 20 {
		t.Fatalf("DB has %d exported methods: the walk is not seeing the API", dbType.NumMethod())
	}
	for i := range dbType.NumMethod() {
		m := dbType.Method(i)
		if holds(m.Type, map[reflect.Type]bool{}) {
			t.Errorf("DB.%s can carry a byok.Secret: %v", m.Name, m.Type)
		}
	}
}

// TestSchema_NoSecretColumns pins every column of every table. A new column
// fails this test on purpose: check that it cannot hold key material before
// adding it here.
func TestSchema_NoSecretColumns(t *testing.T) {
	_, path := openTemp(t)
	raw := rawDB(t, path)
	rows, err := raw.Query(`SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p
WHERE m.type = 'table' ORDER BY m.name, p.cid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string][]string{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		got[table] = append(got[table], col)
	}
	want := map[string][]string{
		"usage": {"seq", "id", "time_us", "service", "model", "app", "project", "credential", "payer", "member",
			"status", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
			"cache_write_1h_tokens", "requests", "cost_micros", "cost_known", "latency_us", "fallback_reason",
			"relayed", "incomplete"},
		"outbox":          {"first_seq", "last_seq"},
		"rejected":        {"seq", "reason", "rejected_us"},
		"keys":            {"service", "name", "fingerprint", "budget_micros", "is_primary", "created_us"},
		"app_tokens":      {"name", "project", "hash", "created_us", "revoked_us"},
		"prefs":           {"service", "preference", "fallback", "rate_limit_fallback", "over_budget"},
		"budget_alerts":   {"service", "credential", "month", "percent"},
		"counted_batches": {"key", "counted_us"},
		"meta":            {"key", "value"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
}

// TestFile_HoldsNoTokenOrKey writes everything a daemon stores about a key
// and an app token, then searches the database files for the secrets.
func TestFile_HoldsNoTokenOrKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	apiKey := byok.NewSecret("sk-proj-THISISTHEREALKEY1234567890abcd")
	token := "byok_app_THISISTHEAPPTOKEN0987654321"
	if err := d.AddKey(ctx, byok.KeyInfo{Service: byok.OpenAI, Name: "work", Fingerprint: apiKey.Fingerprint()}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateToken(ctx, byok.AppToken{Name: "editor"}, sha256.Sum256([]byte(token))); err != nil {
		t.Fatal(err)
	}
	ev := event(1)
	ev.Credential = byok.PersonalKey("work")
	if err := d.Record(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	matches, err := filepath.Glob(path + "*")
	if err != nil || len(matches) == 0 {
		t.Fatalf("ledger files: %v, %v", matches, err)
	}
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{apiKey.Reveal(), apiKey.Reveal()[:20], token, strings.TrimPrefix(token, "byok_app_")} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains secret material %q", filepath.Base(f), s[:12]+"…")
			}
		}
	}
}
