package httpapi

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"

	"github.com/boombuler/barcode/qr"

	"promo/store"
)

// QRQuietZone is the white border, in modules, around every QR image: the
// four modules the QR standard asks for, so scanners find the code on any
// background.
const QRQuietZone = 4

// QRPNG returns text as a QR code (error correction level M, about 15% of
// the symbol may be damaged) in a black-and-white PNG at least minSize
// pixels wide. Each module is a whole number of pixels, so the image is
// (modules + 2·QRQuietZone) × scale pixels square with the smallest scale
// that reaches minSize. Codes in the display form (7K3M-Q9XD-2RTM) fit the
// QR alphanumeric mode, so a default code is a 21×21 symbol. It is safe for
// concurrent use.
func QRPNG(text string, minSize int) ([]byte, error) {
	m, err := QRModules(text)
	if err != nil {
		return nil, err
	}
	n := len(m) + 2*QRQuietZone
	scale := max(1, (minSize+n-1)/n)
	img := image.NewPaletted(image.Rect(0, 0, n*scale, n*scale), color.Palette{color.White, color.Black})
	for y, row := range m {
		for x, dark := range row {
			if !dark {
				continue
			}
			x0, y0 := (x+QRQuietZone)*scale, (y+QRQuietZone)*scale
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

// QRModules returns the QR symbol for text as rows of modules, true for
// dark, without the quiet zone.
func QRModules(text string) ([][]bool, error) {
	bc, err := qr.Encode(text, qr.M, qr.Auto)
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

// codeQR serves GET /v1/codes/{code}/qr.png: the code, looked up as a till
// would, as a QR image of its display form (?size= pixels, 64 to 2048,
// default 256). Unknown codes are not_found and cost the caller a token
// of its failed-lookup bucket, as GET /v1/codes/{code} does.
func (s *Server) codeQR(w http.ResponseWriter, r *http.Request) error {
	size, err := intParam(r, "size", 256)
	if err != nil {
		return err
	}
	if size < 64 || size > 2048 {
		return &store.Error{Code: store.EInvalid, Field: "size", Message: fmt.Sprintf("size: want 64 to 2048 pixels, got %d", size)}
	}
	c, err := s.lookupCode(r)
	if err != nil {
		return err
	}
	img, err := QRPNG(c.Code, size)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("Content-Length", fmt.Sprint(len(img)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(img)
	return err
}
