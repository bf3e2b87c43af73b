package bloom_test

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"promo/bloom"
)

// The store keeps the filter next to its database and rebuilds it from the
// stored codes when the saved copy is missing, corrupt or stale.
func Example() {
	dir, err := os.MkdirTemp("", "bloom-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "codes.bloom")
	codes := []string{"SPRING-7Q2X", "SPRING-K9PD", "SPRING-M4TA"}
	mark := bloom.Mark{0x5e, 0xed} // in practice random, stored in the database

	f, err := bloom.Load(path, mark)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, bloom.ErrCorrupt), errors.Is(err, bloom.ErrStale):
		f, err = bloom.Build(uint64(len(codes)), bloom.DefaultFPRate, func(add func([]byte)) error {
			for _, c := range codes {
				add([]byte(c))
			}
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
		if err := f.Save(path, mark); err != nil {
			log.Fatal(err)
		}
	case err != nil:
		log.Fatal(err)
	}

	fmt.Println(f.Test([]byte("SPRING-K9PD")), f.Test([]byte("SPRING-AAAA")))
	// Output: true false
}
