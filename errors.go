package byok

import "errors"

// Sentinel errors. Adapters map their backends' errors to these so callers
// can branch with errors.Is without knowing the backend.
var (
	// ErrNotFound: the key, token, row or other thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a thing with that name already exists.
	ErrExists = errors.New("already exists")
	// ErrLocked: the secret store is locked or unreachable and must be
	// unlocked by the user.
	ErrLocked = errors.New("secret store locked or unavailable")
	// ErrUnauthorized: a token or credential is missing, unknown or revoked.
	ErrUnauthorized = errors.New("unauthorized")
)
