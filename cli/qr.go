package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"promo/httpapi/qr"
)

// qrImageSize is the least width in pixels of the PNGs export --qr writes:
// about 3 cm at 300 dpi, enough for print.
const qrImageSize = 360

// qrWriter writes one QR code PNG per code into a folder: `promo export
// --qr DIR`. A nil *qrWriter writes nothing.
type qrWriter struct {
	dir string
	n   int64
}

// newQRWriter makes dir (and its parents) and returns a writer into it,
// or nil when dir is "".
func newQRWriter(dir string) (*qrWriter, error) {
	if dir == "" {
		return nil, nil
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, usageErrorf("--qr %s: not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fileError(dir, err, false)
	}
	return &qrWriter{dir: dir}, nil
}

// write saves code's QR image as DIR/CODE.png (the code in its display
// form: letters, digits and dashes, so a safe file name), through a
// temporary file so a file of that name is always a whole image.
func (q *qrWriter) write(code string) error {
	if q == nil {
		return nil
	}
	if code == "" || code != filepath.Base(code) || code[0] == '.' {
		return fmt.Errorf("code %q cannot name a file", code)
	}
	img, err := qr.PNG(code, qrImageSize)
	if err != nil {
		return err
	}
	path := filepath.Join(q.dir, code+".png")
	f, err := os.CreateTemp(q.dir, "."+code+".png.tmp*")
	if err != nil {
		return fileError(path, err, false)
	}
	_, err = f.Write(img)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fileError(path, err, false)
	}
	q.n++
	return nil
}

// report says how many images were written, on w.
func (q *qrWriter) report(w io.Writer) {
	if q == nil {
		return
	}
	fmt.Fprintf(w, "wrote %s to %s\n", plural(q.n, "QR code", "QR codes"), q.dir)
}
