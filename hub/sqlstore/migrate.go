package sqlstore

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// A Migration is one numbered file of SQL, NNNN_name.sql.
type Migration struct {
	Version int
	Name    string // the file's
	SQL     string
}

// Pending is the migrations in fsys's folder migrations past version v,
// in order; an error if a file is misnumbered or v is newer than them all.
func Pending(fsys fs.FS, v int) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	if v > len(entries) {
		return nil, fmt.Errorf("schema version %d is newer than this byokd knows (%d): upgrade byokd", v, len(entries))
	}
	var out []Migration
	for i, e := range entries[v:] {
		num, _, _ := strings.Cut(e.Name(), "_")
		if n, err := strconv.Atoi(num); err != nil || n != v+i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", e.Name(), v+i+1)
		}
		b, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v + i + 1, Name: e.Name(), SQL: string(b)})
	}
	return out, nil
}
