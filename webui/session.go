package webui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// Lifetimes of login links and sessions.
const (
	LoginTTL   = 5 * time.Minute
	SessionTTL = 12 * time.Hour
)

// flash is a message shown once on the next page.
type flash struct {
	Error bool
	Text  string
	// Secret is a value shown once and never again (a new app token).
	Secret string
}

type session struct {
	csrf    string
	expires time.Time
	flashes []flash
}

// sessions holds login codes and sessions in memory, keyed by the
// SHA-256 of their value so that a lookup never compares the secret
// itself. A daemon restart signs everyone out. Safe for concurrent use.
type sessions struct {
	now    func() time.Time
	mu     sync.Mutex
	logins map[[32]byte]time.Time
	live   map[[32]byte]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, logins: map[[32]byte]time.Time{}, live: map[[32]byte]*session{}}
}

func randomValue() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// newLogin makes a one-time login code.
func (s *sessions) newLogin() (string, time.Time) {
	code := randomValue()
	exp := s.now().Add(LoginTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gc()
	s.logins[hash(code)] = exp
	return code, exp
}

// validLogin reports whether code could still log in, without using it.
func (s *sessions) validLogin(code string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.logins[hash(code)]
	return ok && s.now().Before(exp)
}

// login spends code and starts a session; it returns the session cookie's
// value, or "" if the code is unknown, used or expired.
func (s *sessions) login(code string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := hash(code)
	exp, ok := s.logins[h]
	delete(s.logins, h)
	if !ok || !s.now().Before(exp) {
		return ""
	}
	id := randomValue()
	s.live[hash(id)] = &session{csrf: randomValue(), expires: s.now().Add(SessionTTL)}
	return id
}

// get returns the session for a cookie value, if it is live.
func (s *sessions) get(id string) (*session, bool) {
	if id == "" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.live[hash(id)]
	if !ok || !s.now().Before(ss.expires) {
		delete(s.live, hash(id))
		return nil, false
	}
	return ss, true
}

func (s *sessions) logout(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, hash(id))
}

func (s *sessions) addFlash(ss *session, f flash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.flashes = append(ss.flashes, f)
}

// takeFlashes returns and forgets the session's messages.
func (s *sessions) takeFlashes(ss *session) []flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := ss.flashes
	ss.flashes = nil
	return f
}

// gc drops expired codes and sessions; the caller holds mu.
func (s *sessions) gc() {
	now := s.now()
	for h, exp := range s.logins {
		if !now.Before(exp) {
			delete(s.logins, h)
		}
	}
	for h, ss := range s.live {
		if !now.Before(ss.expires) {
			delete(s.live, h)
		}
	}
}
