package cli

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/require"

	"promo/httpapi/qr"
)

// export --qr DIR writes, beside the CSV, one PNG per exported code named
// after the code: a valid PNG of the code's QR symbol, at least
// qrImageSize pixels wide.
func TestExport_QR_WritesOnePNGPerCode(t *testing.T) {
	db := seededDB(t)
	dir := filepath.Join(filepath.Dir(db), "qr", "gen")
	out := filepath.Join(filepath.Dir(db), "codes.csv")
	stdout := mustRun(t, "--db", db, "export", "gen", "--state", "available", "--out", out, "--qr", dir)
	require.Contains(t, stdout, "exported 4 codes to")
	require.Contains(t, stdout, "wrote 4 QR codes to "+dir)
	csv, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(csv), "ABCD2345,gen,available", "the CSV export is unchanged")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	require.Equal(t, []string{"ABCD2345.png", "BCDE3456.png", "CDEF4567.png", "DEFG5678.png"}, names, "one file per code, no temporary files left")

	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		img, err := png.Decode(bytes.NewReader(b))
		require.NoError(t, err, "%s is a valid PNG", name)
		code := strings.TrimSuffix(name, ".png")
		m, err := qr.Modules(code)
		require.NoError(t, err)
		n := len(m) + 2*qr.QuietZone
		scale := img.Bounds().Dx() / n
		require.Equal(t, img.Bounds().Dx(), img.Bounds().Dy())
		require.Equal(t, n*scale, img.Bounds().Dx(), "whole-pixel modules")
		require.GreaterOrEqual(t, img.Bounds().Dx(), qrImageSize)
		for y := range m { // the image is the code's symbol
			for x := range m[y] {
				r, _, _, _ := img.At((x+qr.QuietZone)*scale+scale/2, (y+qr.QuietZone)*scale+scale/2).RGBA()
				require.Equal(t, m[y][x], r < 0x8000, "%s module %d,%d", code, x, y)
			}
		}
	}
}

// Without --out the CSV goes to stdout as before, and the note about the
// images to stderr; --qr is refused with --redemptions.
func TestExport_QR_WithoutOutWritesOnlyTheImages(t *testing.T) {
	db := seededDB(t)
	dir := filepath.Join(filepath.Dir(db), "qr")
	stdout, stderr, code := run(t, "--db", db, "export", "gen", "--qr", dir)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "wrote 4 QR codes to "+dir+"\n", stdout, "no CSV on stdout: the images were asked for")
	require.Empty(t, stderr)
	_, err := os.Stat(filepath.Join(dir, "ABCD2345.png"))
	require.NoError(t, err)

	_, stderr, code = run(t, "--db", db, "export", "gen", "--redemptions", "--qr", dir)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--qr applies to codes")

	file := filepath.Join(filepath.Dir(db), "codes.txt")
	_, stderr, code = run(t, "--db", db, "export", "gen", "--qr", file)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "not a directory")
}

// The images decode, with an independent decoder, to the codes they are
// named after.
func TestExport_QR_DecodesToTheCode(t *testing.T) {
	db := seededDB(t)
	dir := filepath.Join(filepath.Dir(db), "qr")
	mustRun(t, "--db", db, "export", "gen", "--out", filepath.Join(filepath.Dir(db), "codes.csv"), "--qr", dir)
	for _, code := range []string{"ABCD2345", "BCDE3456", "CDEF4567", "DEFG5678"} {
		require.Equal(t, code, decodeQR(t, filepath.Join(dir, code+".png")))
	}
}

// decodeQR reads the one QR symbol of a PNG file with a decoder written
// independently of the encoder (gozxing, a port of ZXing).
func decodeQR(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err, "%s is a PNG", path)
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	require.NoError(t, err, "a QR code is found in %s", path)
	return res.GetText()
}
