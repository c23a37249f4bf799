// Package otheruser lets tests act as a second local user: it creates the
// Unix user byokd-peer-test (root only; CI runs as root) and runs the test
// binary itself as that user to make one HTTP request. Call Main first in
// TestMain: in the process run as the other user it makes the request and
// exits.
package otheruser
