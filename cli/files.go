package cli

import (
	"io"
	"os"
	"path/filepath"
)

// Files the person names: input opened for reading ("-" is stdin), and
// output written atomically (a temporary file, fsync, rename).

// openInput opens a file the person named for reading; "-" is stdin.
func (e *env) openInput(path string) (io.Reader, func(), error) {
	if path == "-" {
		return e.stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fileError(path, err, true)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, nil, usageErrorf("cannot read %s: it is a directory", path)
	}
	return f, func() { f.Close() }, nil
}

// atomicFile is an output file written beside its final path and renamed
// into place by commit, so that nobody ever sees half of it and a failure
// leaves what was there before.
type atomicFile struct {
	*os.File
	path string
	done bool
}

func createAtomic(path string) (*atomicFile, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, usageErrorf("cannot write %s: it is a directory; name a file", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fileError(path, err, false)
	}
	return &atomicFile{File: f, path: path}, nil
}

// Write writes to the temporary file; a failure names the file the person
// asked for.
func (f *atomicFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	if err != nil {
		err = fileError(f.path, err, false)
	}
	return n, err
}

// commit syncs the file to disk and renames it to its path.
func (f *atomicFile) commit() error {
	f.done = true
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fileError(f.path, err, false)
	}
	if dir, err := os.Open(filepath.Dir(f.path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

// abort removes the file unless it was committed; defer it.
func (f *atomicFile) abort() {
	if !f.done {
		f.Close()
		os.Remove(f.Name())
	}
}
