// Package qr draws QR codes of promo codes as PNG images: for the printable
// sheets and GET /v1/codes/{code}/qr.png (httpapi) and for `promo export
// --qr` (cli). It lives under httpapi because the design card fixes the
// top level and gen must stay pure and stdlib-only; both packages that
// draw may import httpapi's tree. It wraps boombuler/barcode, which
// encodes the symbol; this package only lays it out in pixels.
package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	barcodeqr "github.com/boombuler/barcode/qr"
)

// QuietZone is the white border, in modules, around every QR image: the
// four modules the QR standard asks for, so scanners find the code on any
// background.
const QuietZone = 4

// PNG returns text as a QR code (error correction level M, about 15% of
// the symbol may be damaged) in a black-and-white PNG at least minSize
// pixels wide. Each module is a whole number of pixels, so the image is
// (modules + 2·QuietZone) × scale pixels square with the smallest scale
// that reaches minSize. Codes in the display form (7K3M-Q9XD-2RTM) fit the
// QR alphanumeric mode, so a default code is a 21×21 symbol. It is safe for
// concurrent use.
func PNG(text string, minSize int) ([]byte, error) {
	m, err := Modules(text)
	if err != nil {
		return nil, err
	}
	n := len(m) + 2*QuietZone
	scale := max(1, (minSize+n-1)/n)
	img := image.NewPaletted(image.Rect(0, 0, n*scale, n*scale), color.Palette{color.White, color.Black})
	for y, row := range m {
		for x, dark := range row {
			if !dark {
				continue
			}
			x0, y0 := (x+QuietZone)*scale, (y+QuietZone)*scale
			for dy := 0; dy < scale; dy++ {
				line := img.Pix[(y0+dy)*img.Stride+x0:]
				for dx := 0; dx < scale; dx++ {
					line[dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Modules returns the QR symbol for text as rows of modules, true for
// dark, without the quiet zone.
func Modules(text string) ([][]bool, error) {
	bc, err := barcodeqr.Encode(text, barcodeqr.M, barcodeqr.Auto)
	if err != nil {
		return nil, fmt.Errorf("QR code of %q: %w", text, err)
	}
	b := bc.Bounds()
	m := make([][]bool, b.Dy())
	for y := range m {
		m[y] = make([]bool, b.Dx())
		for x := range m[y] {
			r, _, _, _ := bc.At(b.Min.X+x, b.Min.Y+y).RGBA()
			m[y][x] = r < 0x8000
		}
	}
	return m, nil
}
