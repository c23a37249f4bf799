// Package keystore holds secrets: members' personal API keys, the hub's
// shared keys and device credentials. Metadata about keys (names, budgets,
// fingerprints) lives in the ledger; the secret itself lives only here.
//
// A Store has three backends: Keychain, the operating system's keychain
// through github.com/zalando/go-keyring (the Secret Service on Linux);
// File, a passphrase-encrypted file for machines without a keychain; and
// Memory, for tests of other packages. Open chooses one from a Config.
//
// Every backend maps its errors to the root sentinels byok.ErrNotFound and
// byok.ErrLocked, and no error text ever contains a secret.
package keystore
