package store

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStore_EachCode_ReturnsTheCallersError(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	mustGenerate(t, s, "c", 3)
	err := s.EachCode("c", "", func(Code) error { return io.ErrShortWrite })
	require.Equal(t, io.ErrShortWrite, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: mustGenerate(t, s, "c", 1)[0]})
	require.NoError(t, err)
	err = s.EachRedemption("c", func(Redemption) error { return io.ErrShortWrite })
	require.Equal(t, io.ErrShortWrite, err)
}
