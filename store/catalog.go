package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"

	"promo/gen"
	"promo/store/kv"
)

// catalog is an immutable snapshot of all campaigns, for lookups that must
// not decode JSON: by id, by number, and the formats to match input against.
type catalog struct {
	byID     map[string]*Campaign
	byNum    map[uint32]*Campaign
	raw      map[uint32][]byte // each campaign's record as stored
	matchers []*gen.Matcher    // one per distinct format shape
}

func loadCatalog(tx kv.Tx) (*catalog, error) {
	cat := &catalog{byID: map[string]*Campaign{}, byNum: map[uint32]*Campaign{}, raw: map[uint32][]byte{}}
	var err error
	tx.Scan(bucketCampaigns, kv.All, func(k, v []byte) bool {
		var c *Campaign
		if c, err = decodeCampaign(v); err != nil {
			err = fmt.Errorf("campaign %q: %w", k, err)
			return false
		}
		cat.byID[c.ID] = c
		cat.byNum[c.Num] = c
		cat.raw[c.Num] = bytes.Clone(v)
		return true
	})
	if err != nil {
		return nil, err
	}
	var shapes []gen.Format
	for _, c := range cat.sorted() {
		dup := false
		for _, f := range shapes {
			dup = dup || f.SameShape(c.Format)
		}
		if !dup {
			shapes = append(shapes, c.Format)
			cat.matchers = append(cat.matchers, gen.NewMatcher(c.Format))
		}
	}
	return cat, nil
}

func (c *catalog) sorted() []*Campaign {
	list := make([]*Campaign, 0, len(c.byID))
	for _, v := range c.byID {
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list
}

// refreshCatalog reloads the catalog after tx commits.
func (s *Store) refreshCatalog(tx *wtx) {
	tx.onCommit(s.reloadCatalog)
}

func (s *Store) campaign(id string) (*Campaign, error) {
	if c := s.cat.Load().byID[id]; c != nil {
		return c, nil
	}
	if s.cl != nil { // created through another node a moment ago?
		s.reloadCatalog()
		if c := s.cat.Load().byID[id]; c != nil {
			return c, nil
		}
	}
	return nil, Errorf(ENotFound, "no campaign %q", id)
}

func putCampaign(tx *wtx, c *Campaign) error {
	cp := *c
	cp.Counts = nil
	b, err := json.Marshal(storedCampaign{Campaign: &cp, Num: c.Num})
	if err != nil {
		return err
	}
	tx.Put(bucketCampaigns, []byte(c.ID), b)
	return nil
}

// getCampaignTx reads a campaign as tx sees it, for operations that change
// campaigns (the catalog may lag within a shared transaction).
func getCampaignTx(tx kv.Tx, id string) (*Campaign, error) {
	v := tx.Get(bucketCampaigns, []byte(id))
	if v == nil {
		return nil, Errorf(ENotFound, "no campaign %q", id)
	}
	c, err := decodeCampaign(v)
	if err != nil {
		return nil, fmt.Errorf("campaign %q: %w", id, err)
	}
	return c, nil
}

func numKey(num uint32) []byte { return binary.BigEndian.AppendUint32(nil, num) }
