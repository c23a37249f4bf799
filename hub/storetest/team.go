package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"byokd.dev/byok"
	"byokd.dev/byok/hub"
	"byokd.dev/byok/teamsync"
)

func wantIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testEnrollment: an invite is redeemed once, before it expires, and
// makes the device; devices are found by credential and revoked once.
func testEnrollment(t *testing.T, open Open) {
	db := open(t)
	ctx := context.Background()
	inv := hub.Invite{CodeHash: "h-inv", Email: "ann@example.com", Created: at, Expires: at.Add(time.Hour)}
	must(t, db.CreateInvite(ctx, inv))
	wantIs(t, "the same invite again", db.CreateInvite(ctx, inv), byok.ErrExists)
	must(t, db.CreateInvite(ctx, hub.Invite{CodeHash: "h-old", Email: "bob@example.com", Created: at, Expires: at.Add(time.Minute)}))
	dev := hub.Device{ID: "dev-1", Name: "laptop", Created: at, CredHash: "h-cred"}
	_, err := db.Redeem(ctx, "h-old", at.Add(time.Minute), hub.Device{ID: "dev-x", CredHash: "h-x", Created: at})
	wantIs(t, "an expired invite", err, byok.ErrNotFound)
	_, err = db.Redeem(ctx, "h-none", at, dev)
	wantIs(t, "an unknown invite", err, byok.ErrNotFound)
	// Redeemed at once from several places: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	want := dev // read by every racer while the winner writes dev
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := want
			if i > 0 {
				d.ID, d.CredHash = fmt.Sprintf("dev-race-%d", i), fmt.Sprintf("h-race-%d", i)
			}
			got, err := db.Redeem(ctx, "h-inv", at.Add(time.Second), d)
			if err == nil {
				mu.Lock()
				won++
				dev = got
				mu.Unlock()
			} else if !errors.Is(err, byok.ErrNotFound) {
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("an invite redeemed at once 8 times: %d won, want 1", won)
	}
	if dev.Member != "ann@example.com" {
		t.Errorf("redeemed device's member: got %q", dev.Member)
	}
	got, err := db.DeviceByCredential(ctx, dev.CredHash)
	must(t, err)
	if diff := cmp.Diff(dev, got); diff != "" {
		t.Errorf("DeviceByCredential (-want +got):\n%s", diff)
	}
	_, err = db.DeviceByCredential(ctx, "h-nobody")
	wantIs(t, "an unknown credential", err, byok.ErrNotFound)
	must(t, db.SeenDevice(ctx, dev.ID, at.Add(time.Hour)))
	must(t, db.RevokeDevice(ctx, dev.ID, at.Add(2*time.Hour)))
	must(t, db.RevokeDevice(ctx, dev.ID, at.Add(3*time.Hour))) // keeps the first time
	wantIs(t, "revoke an unknown device", db.RevokeDevice(ctx, "dev-none", at), byok.ErrNotFound)
	devs, err := db.Devices(ctx)
	must(t, err)
	revoked := at.Add(2 * time.Hour)
	dev.LastSeen, dev.Revoked = at.Add(time.Hour), &revoked
	if diff := cmp.Diff([]hub.Device{dev}, devs); diff != "" {
		t.Errorf("Devices (-want +got):\n%s", diff)
	}
}

// testAdminsLoginsSessions: a login code is used once before it expires;
// a session lasts until it expires or is deleted.
func testAdminsLoginsSessions(t *testing.T, open Open) {
	db := open(t)
	ctx := context.Background()
	must(t, db.AddAdmin(ctx, "ann@example.com", at))
	must(t, db.AddAdmin(ctx, "ann@example.com", at))
	for email, want := range map[string]bool{"ann@example.com": true, "bob@example.com": false} {
		if ok, err := db.IsAdmin(ctx, email); err != nil || ok != want {
			t.Errorf("IsAdmin(%s): got %v, %v, want %v", email, ok, err, want)
		}
	}
	must(t, db.CreateLogin(ctx, hub.Login{CodeHash: "h-l", Email: "ann@example.com", Expires: at.Add(time.Minute)}))
	must(t, db.CreateLogin(ctx, hub.Login{CodeHash: "h-l2", Email: "ann@example.com", Expires: at.Add(time.Minute)}))
	_, err := db.RedeemLogin(ctx, "h-l2", at.Add(time.Minute))
	wantIs(t, "an expired login code", err, byok.ErrNotFound)
	email, err := db.RedeemLogin(ctx, "h-l", at)
	if err != nil || email != "ann@example.com" {
		t.Errorf("RedeemLogin: got %q, %v", email, err)
	}
	_, err = db.RedeemLogin(ctx, "h-l", at)
	wantIs(t, "a login code used twice", err, byok.ErrNotFound)
	s := hub.Session{Hash: "h-s", Email: "ann@example.com", Expires: at.Add(time.Hour)}
	must(t, db.CreateSession(ctx, s))
	got, err := db.Session(ctx, "h-s", at)
	must(t, err)
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("Session (-want +got):\n%s", diff)
	}
	_, err = db.Session(ctx, "h-s", at.Add(time.Hour))
	wantIs(t, "an expired session", err, byok.ErrNotFound)
	must(t, db.DeleteSession(ctx, "h-s"))
	must(t, db.DeleteSession(ctx, "h-none"))
	_, err = db.Session(ctx, "h-s", at)
	wantIs(t, "a deleted session", err, byok.ErrNotFound)
}

// testVersions: policies and price tables get the next version each,
// also when set at once from several places.
func testVersions(t *testing.T, open Open) {
	db := open(t)
	ctx := context.Background()
	p, err := db.Policy(ctx)
	must(t, err)
	if p.Version != 0 {
		t.Errorf("no policy yet: got version %d, want 0", p.Version)
	}
	pt, err := db.Prices(ctx)
	must(t, err)
	if pt.Version != 0 || pt.Table != nil {
		t.Errorf("no prices yet: got %+v", pt)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]bool{}
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := db.SetPolicy(ctx, byok.Policy{})
			if err != nil {
				t.Error(err)
				return
			}
			pt, err := db.SetPrices(ctx, json.RawMessage(`{"models":{}}`))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[p.Version] || seen[-pt.Version] {
				t.Errorf("version given twice: policy %d, prices %d", p.Version, pt.Version)
			}
			seen[p.Version], seen[-pt.Version] = true, true
		}()
	}
	wg.Wait()
	p, err = db.Policy(ctx)
	must(t, err)
	pt, err = db.Prices(ctx)
	must(t, err)
	if p.Version != 6 || pt.Version != 6 || string(pt.Table) != `{"models":{}}` {
		t.Errorf("after six of each: policy %d, prices %+v, want version 6 of both", p.Version, pt)
	}
}

// testSharedKeys: names are unique; removing returns what was removed.
func testSharedKeys(t *testing.T, open Open) {
	db := open(t)
	ctx := context.Background()
	a := hub.SharedKey{Service: byok.OpenAI, Name: "team-openai", Fingerprint: "…abcd", Created: at}
	b := hub.SharedKey{Service: byok.Anthropic, Name: "team-anthropic", Fingerprint: "…wxyz", Created: at.Add(time.Second)}
	must(t, db.AddSharedKey(ctx, a))
	must(t, db.AddSharedKey(ctx, b))
	wantIs(t, "a second key of one name", db.AddSharedKey(ctx, a), byok.ErrExists)
	keys, err := db.SharedKeys(ctx)
	must(t, err)
	if diff := cmp.Diff([]hub.SharedKey{a, b}, keys); diff != "" {
		t.Errorf("SharedKeys (-want +got):\n%s", diff)
	}
	got, err := db.RemoveSharedKey(ctx, a.Name)
	must(t, err)
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("RemoveSharedKey (-want +got):\n%s", diff)
	}
	_, err = db.RemoveSharedKey(ctx, a.Name)
	wantIs(t, "remove a removed key", err, byok.ErrNotFound)
}

// testInventories: a device's inventory is replaced by its next report.
func testInventories(t *testing.T, open Open) {
	db := open(t)
	ctx := context.Background()
	must(t, db.CreateInvite(ctx, hub.Invite{CodeHash: "h", Email: "ann@example.com", Created: at, Expires: at.Add(time.Hour)}))
	dev, err := db.Redeem(ctx, "h", at, hub.Device{ID: "dev-1", Name: "laptop", Created: at, CredHash: "c"})
	must(t, err)
	inv := teamsync.Inventory{Services: []teamsync.ServiceKeys{{Service: byok.OpenAI, HasPersonalKey: true}}}
	must(t, db.SetInventory(ctx, dev.ID, teamsync.Inventory{}, at))
	must(t, db.SetInventory(ctx, dev.ID, inv, at.Add(time.Minute)))
	got, err := db.Inventories(ctx)
	must(t, err)
	want := []hub.DeviceInventory{{DeviceID: dev.ID, Member: "ann@example.com", Device: "laptop", Reported: at.Add(time.Minute), Inventory: inv}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Inventories (-want +got):\n%s", diff)
	}
}
