package packaging

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"time"
)

// ArchiveFile is one file in a zip or tar.gz: its name in the archive,
// where it is on disk and its mode.
type ArchiveFile struct {
	Name, Source string
	Mode         os.FileMode
}

// WriteZip writes files into a zip at out (the Windows download).
func WriteZip(out string, mtime time.Time, files []ArchiveFile) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for _, a := range files {
		h := &zip.FileHeader{Name: a.Name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(a.Mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			f.Close()
			return err
		}
		if err := copyFile(w, a.Source); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteTarGz writes files into a gzipped tar at out (the macOS download),
// under the folder dir.
func WriteTarGz(out, dir string, mtime time.Time, files []ArchiveFile) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, a := range files {
		fi, err := os.Stat(a.Source)
		if err != nil {
			f.Close()
			return err
		}
		h := &tar.Header{Name: path.Join(dir, a.Name), Mode: int64(a.Mode), Size: fi.Size(), ModTime: mtime, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			f.Close()
			return err
		}
		if err := copyFile(tw, a.Source); err != nil {
			f.Close()
			return err
		}
	}
	for _, c := range []io.Closer{tw, gz, f} {
		if err := c.Close(); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(w io.Writer, src string) error {
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}
