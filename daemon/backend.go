package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/ledger"
)

// backend serves the control API from the daemon's parts.
type backend struct{ d *Daemon }

var _ control.Backend = backend{}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func checkName(what, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%w: %s name %q: use 1 to 64 letters, digits, '.', '_' or '-'", control.ErrInvalid, what, name)
	}
	return nil
}

func monthBounds(t time.Time) (time.Time, time.Time) {
	from := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
	return from, from.AddDate(0, 1, 0)
}

func (b backend) Status(ctx context.Context) (control.Status, error) {
	d := b.d
	keys, err := d.db.Keys(ctx)
	if err != nil {
		return control.Status{}, err
	}
	toks, err := d.db.Tokens(ctx)
	if err != nil {
		return control.Status{}, err
	}
	active := 0
	for _, t := range toks {
		if !t.Revoked {
			active++
		}
	}
	unsynced, err := d.db.Unsynced(ctx)
	if err != nil {
		return control.Status{}, err
	}
	from, to := monthBounds(d.now())
	personal, err := d.db.Spend(ctx, from, to, byok.PayerPersonal)
	if err != nil {
		return control.Status{}, err
	}
	team, err := d.db.Spend(ctx, from, to, byok.PayerTeam)
	if err != nil {
		return control.Status{}, err
	}
	rej, err := d.db.Rejected(ctx)
	if err != nil {
		return control.Status{}, err
	}
	return control.Status{
		Rejected: control.RejectedStatus{Count: rej.Count, LastID: rej.Last.ID, Reason: rej.Reason},
		Version:  d.cfg.Version, Proxy: d.proxyAddr, Keystore: d.storeKind,
		Keys: len(keys), Tokens: active, Unsynced: unsynced,
		PersonalSpend: personal, TeamSpend: team, Paused: d.paused.Load(), Hub: d.hubStatus(),
		Ledger: d.ledgerStatus(), Refused: d.refused(), TeamPaying: d.router.episodes.list(),
	}, nil
}

func (b backend) Keys(ctx context.Context) ([]control.Key, error) {
	d := b.d
	infos, err := d.db.Keys(ctx)
	if err != nil {
		return nil, err
	}
	from, to := monthBounds(d.now())
	out := make([]control.Key, 0, len(infos))
	for _, k := range infos {
		spent, err := d.db.Budget(ctx, k.Service, k.Ref(), from, to)
		if err != nil {
			return nil, err
		}
		until, why := d.router.health.CoolingUntil(k.Service, k.Name)
		out = append(out, control.Key{
			Service: k.Service, Name: k.Name, Fingerprint: k.Fingerprint, Budget: k.Budget,
			Primary: k.Primary, Created: k.Created, Spent: spent.Spent, SkippedUntil: until, SkippedFor: why,
		})
	}
	return out, nil
}

// AddKey stores the secret first and the metadata second, so a listed key
// always has its secret; if the metadata fails, the secret is removed again.
func (b backend) AddKey(ctx context.Context, req control.AddKey) (control.Key, error) {
	d := b.d
	if _, err := byok.ParseService(string(req.Service)); err != nil {
		return control.Key{}, fmt.Errorf("%w: %v", control.ErrInvalid, err)
	}
	if err := checkName("key", req.Name); err != nil {
		return control.Key{}, err
	}
	secret := strings.TrimSpace(req.Secret)
	if secret == "" || strings.ContainsAny(secret, " \t\r\n") {
		return control.Key{}, fmt.Errorf("%w: the key is empty or contains white space: pipe exactly the key on standard input", control.ErrInvalid)
	}
	if req.Budget < 0 {
		return control.Key{}, fmt.Errorf("%w: budget must not be negative", control.ErrInvalid)
	}
	s := byok.NewSecret(secret)
	info := byok.KeyInfo{
		Service: req.Service, Name: req.Name, Fingerprint: s.Fingerprint(),
		Budget: req.Budget, Primary: req.Primary, Created: d.now().UTC(),
	}
	for _, k := range d.keys.personal(req.Service) {
		if k.info.Name == req.Name {
			return control.Key{}, fmt.Errorf("%s key %q %w: remove it first with `byokd key rm %s %s`, or give this one another name",
				req.Service.Title(), req.Name, byok.ErrExists, req.Service, req.Name)
		}
	}
	ref := secretRef(req.Service, req.Name)
	if err := d.store.Set(ref, s); err != nil {
		return control.Key{}, fmt.Errorf("store the key in the %s: %w", d.storeKind, err)
	}
	if err := d.db.AddKey(ctx, info); err != nil {
		if derr := d.store.Delete(ref); derr != nil && !errors.Is(derr, byok.ErrNotFound) {
			d.log.Error("key secret left in store after failed add", "service", req.Service, "key", req.Name, "err", derr)
		}
		return control.Key{}, fmt.Errorf("record the key: %w", err)
	}
	if err := d.keys.load(ctx); err != nil {
		return control.Key{}, err
	}
	nudge(d.inventoryChanged)
	d.events.publish(control.Event{Kind: control.EventChanged, Service: req.Service})
	d.log.Info("personal key added", "service", req.Service, "key", req.Name, "fingerprint", info.Fingerprint)
	keys, err := b.Keys(ctx)
	if err != nil {
		return control.Key{}, err
	}
	for _, k := range keys {
		if k.Service == req.Service && k.Name == req.Name {
			return k, nil
		}
	}
	return control.Key{}, byok.ErrNotFound
}

func (b backend) RemoveKey(ctx context.Context, svc byok.Service, name string) error {
	d := b.d
	if err := d.db.RemoveKey(ctx, svc, name); err != nil {
		if errors.Is(err, byok.ErrNotFound) {
			return fmt.Errorf("%w: no %s key named %q (see `byokd key list`)", byok.ErrNotFound, svc.Title(), name)
		}
		return err
	}
	if err := d.store.Delete(secretRef(svc, name)); err != nil && !errors.Is(err, byok.ErrNotFound) {
		return fmt.Errorf("remove the key from the %s: %w", d.storeKind, err)
	}
	d.log.Info("personal key removed", "service", svc, "key", name)
	if err := d.keys.load(ctx); err != nil {
		return err
	}
	nudge(d.inventoryChanged)
	d.events.publish(control.Event{Kind: control.EventChanged, Service: svc})
	return nil
}

func (b backend) Tokens(ctx context.Context) ([]control.Token, error) {
	toks, err := b.d.db.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]control.Token, 0, len(toks))
	for _, t := range toks {
		out = append(out, control.Token{Name: t.Name, Project: t.Project, Created: t.Created, Revoked: t.Revoked})
	}
	return out, nil
}

func (b backend) CreateToken(ctx context.Context, req control.NewToken) (control.CreatedToken, error) {
	if err := checkName("token", req.Name); err != nil {
		return control.CreatedToken{}, err
	}
	if req.Project != "" {
		if err := checkName("project", req.Project); err != nil {
			return control.CreatedToken{}, err
		}
	}
	value := randomToken(byok.AppTokenPrefix)
	t := byok.AppToken{Name: req.Name, Project: req.Project, Created: b.d.now().UTC()}
	if err := b.d.db.CreateToken(ctx, t, sha256.Sum256([]byte(value))); err != nil {
		if errors.Is(err, byok.ErrExists) {
			return control.CreatedToken{}, fmt.Errorf("app token %q %w: revoke it first, or give this one another name", req.Name, byok.ErrExists)
		}
		return control.CreatedToken{}, err
	}
	b.d.log.Info("app token created", "token", req.Name, "project", req.Project)
	return control.CreatedToken{
		Token: control.Token{Name: t.Name, Project: t.Project, Created: t.Created},
		Value: value,
	}, nil
}

func (b backend) RevokeToken(ctx context.Context, name string) error {
	if err := b.d.db.RevokeToken(ctx, name); err != nil {
		if errors.Is(err, byok.ErrNotFound) {
			return fmt.Errorf("%w: no app token named %q (see `byokd token list`)", byok.ErrNotFound, name)
		}
		return err
	}
	b.d.tokens.forget(name)
	b.d.log.Info("app token revoked", "token", name)
	return nil
}

func (b backend) Usage(ctx context.Context, from, to time.Time) ([]byok.UsageEvent, error) {
	return b.d.db.Events(ctx, from, to)
}

func (b backend) Prefs(ctx context.Context) ([]control.Pref, error) {
	m, err := b.d.db.Prefs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]control.Pref, 0, len(byok.Services()))
	for _, svc := range byok.Services() {
		p, ok := m[svc]
		pref := control.Pref{Service: svc, Preference: byok.PreferPersonal, OverBudget: "warn"}
		if ok {
			pref.Preference, pref.Fallback = p.Preference, p.Fallback
			pref.RateLimitFallback, pref.OverBudget = p.FallbackOnRateLimit, p.OverBudget
		}
		out = append(out, pref)
	}
	return out, nil
}

func (b backend) SetPref(ctx context.Context, p control.Pref) error {
	if _, err := byok.ParsePreference(string(p.Preference)); err != nil {
		return fmt.Errorf("%w: %v", control.ErrInvalid, err)
	}
	err := b.d.db.SetPref(ctx, p.Service, ledger.Pref{
		Preference: p.Preference, Fallback: p.Fallback,
		FallbackOnRateLimit: p.RateLimitFallback, OverBudget: p.OverBudget,
	})
	if err != nil {
		if strings.Contains(err.Error(), "unknown budget action") {
			return fmt.Errorf("%w: %v", control.ErrInvalid, err)
		}
		return err
	}
	if err := b.d.router.loadPrefs(ctx); err != nil {
		return err
	}
	nudge(b.d.inventoryChanged) // the admin's view shows preferences
	b.d.events.publish(control.Event{Kind: control.EventChanged, Service: p.Service})
	return nil
}

func (b backend) Approvals(context.Context) ([]control.Approval, error) {
	return b.d.approvals.list(), nil
}

func (b backend) Answer(_ context.Context, id string, a control.Answer) error {
	return b.d.approvals.answer(id, a)
}

func (b backend) Subscribe(ctx context.Context) (<-chan control.Event, error) {
	return b.d.events.subscribe(ctx), nil
}

func (b backend) JoinHub(ctx context.Context, j control.Join) (control.HubStatus, error) {
	return b.d.joinHub(ctx, j)
}

func (d *Daemon) ledgerStatus() control.LedgerStatus {
	st := d.db.Stats()
	ls := control.LedgerStatus{KeepWorking: d.db.KeepWorking(), Waiting: st.Waiting, Volatile: st.Volatile, Dropped: st.Dropped}
	if err := d.db.Health(); err != nil {
		ls.Error = err.Error()
	}
	return ls
}

func (d *Daemon) refused() control.Refused {
	r := control.Refused{Proxy: d.proxy.Refused(), Control: d.control.Refused(),
		OtherUsers: d.proxyLn.Refused() + d.controlLn.Refused()}
	if d.page != nil {
		r.Page = d.page.Refused()
	}
	return r
}
