package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/jsonapi"
)

// adminAPI is the admin API behind the loopback gate and the admin token:
//
//	GET    /v1/status
//	POST   /v1/admins        NewAdmin → AdminLink
//	POST   /v1/invites       NewInvite → CreatedInvite
//	GET    /v1/devices       → []DeviceStatus
//	DELETE /v1/devices/{id}
//	GET    /v1/keys          → []SharedKey
//	POST   /v1/keys          AddSharedKey → SharedKey
//	DELETE /v1/keys/{name}
//	GET    /v1/policy        → byok.Policy
//	PUT    /v1/policy        byok.Policy (version ignored) → byok.Policy
//	GET    /v1/usage         ?month= or ?from=&to= → []byok.UsageEvent (with member)
//	GET    /v1/inventory     → []DeviceInventory
//	GET    /v1/prices        → teamsync.PriceTable
//	PUT    /v1/prices        a price file → teamsync.PriceTable (the next version)
func (s *Server) adminAPI(token byok.Secret, port string) *jsonapi.Server {
	m := jsonapi.NewServer(jsonapi.ServerConfig{Who: "byokd hub", Name: "the admin API", Port: port, Token: token,
		WrongToken: "byokd hub: missing or wrong admin token (run `byokd hub …` on the hub machine, as the user running it)",
		MaxBody:    1 << 20, Logger: s.log})
	m.Read("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.status(r.Context())
		reply(s.log, w, st, err)
	})
	m.Write("POST /v1/admins", func(w http.ResponseWriter, r *http.Request) {
		var req NewAdmin
		if decode(w, r, &req) {
			l, err := s.CreateAdmin(r.Context(), req.Email)
			reply(s.log, w, l, err)
		}
	})
	m.Write("POST /v1/invites", func(w http.ResponseWriter, r *http.Request) {
		var req NewInvite
		if !decode(w, r, &req) {
			return
		}
		ttl := time.Duration(req.ExpiresIn) * time.Second
		if ttl < 0 || ttl > maxInviteTTL {
			reply(s.log, w, nil, fmt.Errorf("%w: an invite may last up to %s", ErrInvalid, maxInviteTTL))
			return
		}
		inv, err := s.CreateInvite(r.Context(), req.Email, ttl)
		reply(s.log, w, inv, err)
	})
	m.Read("GET /v1/devices", func(w http.ResponseWriter, r *http.Request) {
		devs, err := s.cfg.Store.Devices(r.Context())
		conn := s.sessions.connected()
		out := make([]DeviceStatus, 0, len(devs))
		for _, d := range devs {
			out = append(out, DeviceStatus{Device: d, Connected: conn[d.ID] > 0})
		}
		reply(s.log, w, out, err)
	})
	m.Write("DELETE /v1/devices/{id}", func(w http.ResponseWriter, r *http.Request) {
		reply(s.log, w, struct{}{}, s.RevokeDevice(r.Context(), r.PathValue("id")))
	})
	m.Read("GET /v1/keys", func(w http.ResponseWriter, r *http.Request) {
		k, err := s.cfg.Store.SharedKeys(r.Context())
		reply(s.log, w, k, err)
	})
	m.Write("POST /v1/keys", func(w http.ResponseWriter, r *http.Request) {
		var req AddSharedKey
		if decode(w, r, &req) {
			k, err := s.AddSharedKey(r.Context(), req.Service, req.Name, byok.NewSecret(req.Secret))
			reply(s.log, w, k, err)
		}
	})
	m.Write("DELETE /v1/keys/{name}", func(w http.ResponseWriter, r *http.Request) {
		reply(s.log, w, struct{}{}, s.RemoveSharedKey(r.Context(), r.PathValue("name")))
	})
	m.Read("GET /v1/policy", func(w http.ResponseWriter, r *http.Request) {
		reply(s.log, w, s.Policy(), nil)
	})
	m.Write("PUT /v1/policy", func(w http.ResponseWriter, r *http.Request) {
		var p byok.Policy
		if decode(w, r, &p) {
			p, err := s.SetPolicy(r.Context(), p)
			reply(s.log, w, p, err)
		}
	})
	m.Read("GET /v1/usage", func(w http.ResponseWriter, r *http.Request) {
		f, err := usageRange(r.URL.Query(), s.cfg.Now())
		if err != nil {
			writeErr(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		evs, err := s.cfg.Store.Usage(r.Context(), f)
		reply(s.log, w, evs, err)
	})
	m.Read("GET /v1/prices", func(w http.ResponseWriter, r *http.Request) {
		reply(s.log, w, s.Prices(), nil)
	})
	m.Write("PUT /v1/prices", func(w http.ResponseWriter, r *http.Request) {
		var table json.RawMessage
		if decode(w, r, &table) {
			t, err := s.SetPrices(r.Context(), table)
			reply(s.log, w, t, err)
		}
	})
	m.Read("GET /v1/inventory", func(w http.ResponseWriter, r *http.Request) {
		inv, err := s.cfg.Store.Inventories(r.Context())
		reply(s.log, w, inv, err)
	})
	return m
}

func (s *Server) status(ctx context.Context) (Status, error) {
	devs, err := s.cfg.Store.Devices(ctx)
	if err != nil {
		return Status{}, err
	}
	keys, err := s.cfg.Store.SharedKeys(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{Version: s.cfg.Version, PublicURL: s.publicURL, PolicyVersion: s.Policy().Version, SharedKeys: len(keys)}
	for _, d := range devs {
		if d.Revoked == nil {
			st.Devices++
		}
	}
	for _, n := range s.sessions.connected() {
		st.Connected += n
	}
	st.Refused = Refused{Public: s.gate.Refused(), Admin: s.api.Refused()}
	st.Rejected = s.rejected.Load()
	return st, nil
}

// AddSharedKey stores a shared key's secret in the keystore and its
// metadata in the Store.
func (s *Server) AddSharedKey(ctx context.Context, svc byok.Service, name string, secret byok.Secret) (SharedKey, error) {
	if _, err := byok.ParseService(string(svc)); err != nil {
		return SharedKey{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 || strings.ContainsAny(name, "/ \t\r\n") {
		return SharedKey{}, fmt.Errorf("%w: give the key a short name without spaces or slashes, such as team-openai", ErrInvalid)
	}
	if secret.IsZero() {
		return SharedKey{}, fmt.Errorf("%w: the key is empty: pipe it on standard input", ErrInvalid)
	}
	k := SharedKey{Service: svc, Name: name, Fingerprint: secret.Fingerprint(), Created: s.cfg.Now()}
	keys, err := s.cfg.Store.SharedKeys(ctx)
	if err != nil {
		return k, err
	}
	for _, o := range keys {
		if o.Name == name {
			return k, fmt.Errorf("a shared key named %q %w: remove it first with `byokd hub key rm %s`", name, byok.ErrExists, name)
		}
	}
	if err := s.cfg.Keys.Set(k.secretRef(), secret); err != nil {
		return k, fmt.Errorf("store the shared key: %w", err)
	}
	if err := s.cfg.Store.AddSharedKey(ctx, k); err != nil {
		_ = s.cfg.Keys.Delete(k.secretRef())
		return k, err
	}
	s.log.Info("shared key added", "service", svc, "key", name)
	return k, nil
}

// RemoveSharedKey deletes a shared key from the Store and the keystore.
func (s *Server) RemoveSharedKey(ctx context.Context, name string) error {
	k, err := s.cfg.Store.RemoveSharedKey(ctx, name)
	if err != nil {
		return err
	}
	if err := s.cfg.Keys.Delete(k.secretRef()); err != nil && !errors.Is(err, byok.ErrNotFound) {
		return fmt.Errorf("remove the shared key from the keystore: %w", err)
	}
	s.log.Info("shared key removed", "service", k.Service, "key", name)
	return nil
}
