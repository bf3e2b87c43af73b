package qr

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"
)

// PNG draws the library's symbol exactly: a square PNG of whole-pixel
// modules inside a white quiet zone of four modules.
func TestQRPNG_DrawsTheSymbolWithAQuietZone(t *testing.T) {
	for _, tc := range []struct {
		text    string
		minSize int
		modules int
	}{
		{"7K3M-Q9XD-2RTM", 160, 21}, // alphanumeric: version 1
		{"7K3M-Q9XD-2RTM", 29, 21},  // one pixel a module
		{"SPRING-2026-7K3MQ9XD2RTM", 256, 25},
	} {
		b, err := PNG(tc.text, tc.minSize)
		require.NoError(t, err)
		img, err := png.Decode(bytes.NewReader(b))
		require.NoError(t, err, "a valid PNG")
		m, err := Modules(tc.text)
		require.NoError(t, err)
		require.Len(t, m, tc.modules)
		n := tc.modules + 2*QuietZone
		scale := (tc.minSize + n - 1) / n
		require.Equal(t, image.Rect(0, 0, n*scale, n*scale), img.Bounds())
		require.GreaterOrEqual(t, img.Bounds().Dx(), tc.minSize)
		dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x8000 }
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				want := x >= QuietZone && y >= QuietZone && x < n-QuietZone && y < n-QuietZone &&
					m[y-QuietZone][x-QuietZone]
				// Every pixel of the module, corners and centre.
				for _, p := range [][2]int{{0, 0}, {scale - 1, scale - 1}, {scale / 2, scale / 2}} {
					require.Equal(t, want, dark(x*scale+p[0], y*scale+p[1]), "%s module %d,%d", tc.text, x, y)
				}
			}
		}
		// The three finder patterns: a dark 7×7 ring at three corners.
		for _, c := range [][2]int{{0, 0}, {tc.modules - 7, 0}, {0, tc.modules - 7}} {
			for i := 0; i < 7; i++ {
				require.True(t, m[c[1]][c[0]+i] && m[c[1]+6][c[0]+i] && m[c[1]+i][c[0]] && m[c[1]+i][c[0]+6], "finder at %v", c)
			}
		}
	}
}
