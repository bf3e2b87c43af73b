package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"promo/store"
)

// W1 and W1-cli: bulk generation, through the API and through the CLI.

var codePattern = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{12}$`)

// w1 generates n codes in one request and returns the seconds from sending
// it to the answer (the codes are durable then), after checking that the
// store holds exactly n distinct well-formed codes.
func (s *benchServer) w1(ctx context.Context, n int) (float64, []string, error) {
	if _, err := s.admin.CreateCampaign(ctx, store.CampaignSpec{ID: "w1", Benefit: &store.Benefit{Type: store.BenefitPercent, Value: 10}}); err != nil {
		return 0, nil, err
	}
	client := oneConn()
	body, _ := json.Marshal(map[string]int{"count": n})
	start := time.Now()
	status, b, err := s.post(ctx, client, s.adminKey, "/v1/campaigns/w1/generate", body)
	secs := time.Since(start).Seconds()
	if err != nil || status != http.StatusCreated {
		return 0, nil, fmt.Errorf("W1: generate answered %d %s: %v", status, b, err)
	}
	codes, err := s.checkCodes(n)
	return secs, codes, err
}

// checkCodes exports campaign w1 and checks it holds exactly n distinct
// codes of the peers' regex.
func (s *benchServer) checkCodes(n int) ([]string, error) {
	codes := make([]string, 0, n)
	seen := make(map[string]struct{}, n)
	err := s.admin.EachCode("w1", "", func(c store.Code) error {
		k := strings.ReplaceAll(c.Code, "-", "")
		if !codePattern.MatchString(k) {
			return fmt.Errorf("W1: %q does not match the peers' code pattern", c.Code)
		}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("W1: %s twice", c.Code)
		}
		seen[k] = struct{}{}
		codes = append(codes, c.Code)
		return nil
	})
	if err == nil && len(codes) != n {
		err = fmt.Errorf("W1: the store holds %d codes, want %d", len(codes), n)
	}
	return codes, err
}

// w1cli generates n codes with `promo generate` through the socket.
func (s *benchServer) w1cli(ctx context.Context, self string, n int) (float64, error) {
	if _, err := s.admin.CreateCampaign(ctx, store.CampaignSpec{ID: "w1", Benefit: &store.Benefit{Type: store.BenefitPercent, Value: 10}}); err != nil {
		return 0, err
	}
	start := time.Now()
	out, err := exec.CommandContext(ctx, self, "--db", s.db, "generate", "w1", "--count", fmt.Sprint(n)).CombinedOutput()
	secs := time.Since(start).Seconds()
	if err != nil {
		return 0, fmt.Errorf("W1-cli: promo generate: %v: %s", err, out)
	}
	_, err = s.checkCodes(n)
	return secs, err
}
