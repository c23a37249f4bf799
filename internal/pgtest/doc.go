// Package pgtest gives tests a real PostgreSQL: one throwaway server per
// test binary (initdb and postgres from Debian's package, in a temporary
// folder, listening only on a unix socket there) and a fresh database per
// test. Call Main from TestMain so the server is stopped when the tests
// end; should the test binary die first, the kernel stops the server too.
//
// PostgreSQL refuses to run as root, and CI runs the tests as root: there
// the server runs as the postgres system user the package creates (or
// nobody), and its folder is handed to that user. Without PostgreSQL
// installed a test fails, saying to run scripts/setup: a skipped store test
// would prove nothing, and CI installs it.
package pgtest
