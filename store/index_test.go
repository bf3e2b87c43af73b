package store

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
)

func TestWalkIndex_FromAnyPosition(t *testing.T) {
	s, _ := testStore(t, Options{})
	sizes := map[uint32]int{1: 2500, 2: 7, 3: 1024}
	want := map[uint32][]string{}
	require.NoError(t, s.update(ctx, func(tx *wtx) error {
		for _, num := range []uint32{2, 1, 3} { // pages of campaigns interleave in the bucket
			var keys [][]byte
			for i := 0; i < sizes[num]; i++ {
				k := fmt.Sprintf("C%dK%05d", num, i)
				keys = append(keys, []byte(k))
				want[num] = append(want[num], k)
			}
			// In two appends, as two Generate calls would.
			half := len(keys) / 2
			require.NoError(t, appendIndex(tx, num, 0, keys[:half]))
			require.NoError(t, appendIndex(tx, num, uint64(half), keys[half:]))
		}
		return nil
	}))
	require.NoError(t, s.view(func(tx kv.Tx) error {
		for num, n := range sizes {
			for _, from := range []int{0, 1, 511, 1023, 1024, 1025, n - 1, n, n + 5} {
				var got []string
				require.NoError(t, walkIndex(tx, num, uint64(from), func(seq uint64, key []byte) (bool, error) {
					require.Equal(t, uint64(from+len(got)), seq)
					got = append(got, string(key))
					return true, nil
				}))
				if from >= n {
					require.Empty(t, got, "campaign %d from %d", num, from)
					continue
				}
				require.Equal(t, want[num][from:], got, "campaign %d from %d", num, from)
			}
		}
		return nil
	}))
}
