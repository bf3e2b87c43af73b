package bloom

import (
	"fmt"
	"os"
	"path/filepath"
)

// Save writes the filter and mark to path atomically: it writes a temporary
// file in the same directory, fsyncs it, renames it over path and fsyncs the
// directory, so path holds either the old filter or the new one, never a
// mix. The file is created with mode 0600. Errors come from the file system,
// wrapped; on error the temporary file is removed and path is untouched
// unless the rename already happened. Save is safe for concurrent use, but
// concurrent Saves to one path race for which file wins.
func (f *Filter) Save(path string, mark Mark) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("bloom: save %s: %w", path, err)
	}
	renamed := false
	defer func() {
		if err != nil && !renamed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = f.WriteTo(tmp, mark); err != nil {
		return fmt.Errorf("bloom: save %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("bloom: save %s: sync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("bloom: save %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("bloom: save %s: %w", path, err)
	}
	renamed = true
	if err = syncDir(dir); err != nil {
		return fmt.Errorf("bloom: save %s: sync directory: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}

// Load reads the filter saved at path by Save. A missing file gives an error
// satisfying errors.Is(err, fs.ErrNotExist); otherwise errors are as from
// Read, wrapping ErrCorrupt or ErrStale. Load is safe for concurrent use.
func Load(path string, want Mark) (*Filter, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bloom: load filter: %w", err)
	}
	defer file.Close()
	limit := int64(-1)
	if fi, err := file.Stat(); err == nil && fi.Mode().IsRegular() {
		limit = fi.Size()
	}
	f, err := decode(file, want, limit)
	if err != nil {
		return nil, fmt.Errorf("bloom: load %s: %w", path, err)
	}
	return f, nil
}
