package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"promo/store/kv"
)

// Roles, from most to least powerful: admin ⊃ issuer ⊃ pos.
const (
	RoleAdmin  = "admin"
	RoleIssuer = "issuer"
	RolePOS    = "pos"
)

var roleRank = map[string]int{RolePOS: 1, RoleIssuer: 2, RoleAdmin: 3}

// RoleAllows reports whether a key of role have may do what needs role need.
func RoleAllows(have, need string) bool {
	return roleRank[have] > 0 && roleRank[have] >= roleRank[need]
}

// Key is an API key as listed: never its secret.
type Key struct {
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Prefix     string     `json:"prefix"` // the secret's first characters, to tell keys apart
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

type storedKey struct {
	Key
	Hash string `json:"sha256"`
}

// keyCache holds every key by the SHA-256 of its secret, so that
// authenticating a request reads no disk. Last-used times are kept here and
// written now and then (see maintain), not on every request.
type keyCache struct {
	mu     sync.RWMutex
	byHash map[[32]byte]*cachedKey
}

type cachedKey struct {
	key      Key
	hash     [32]byte
	lastUsed atomic.Int64 // unix seconds
	flushed  atomic.Int64
}

func (kc *keyCache) load(tx kv.Tx) error {
	m := map[[32]byte]*cachedKey{}
	var err error
	tx.Scan(bucketKeys, kv.All, func(_, v []byte) bool {
		var sk storedKey
		if err = json.Unmarshal(v, &sk); err != nil {
			return false
		}
		ck := &cachedKey{key: sk.Key}
		if _, err = hex.Decode(ck.hash[:], []byte(sk.Hash)); err != nil {
			return false
		}
		if sk.LastUsedAt != nil {
			ck.lastUsed.Store(sk.LastUsedAt.Unix())
			ck.flushed.Store(sk.LastUsedAt.Unix())
		}
		m[ck.hash] = ck
		return true
	})
	if err != nil {
		return err
	}
	kc.mu.Lock()
	kc.byHash = m
	kc.mu.Unlock()
	return nil
}

var keyNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// CreateKey makes an API key with the role and returns it with its secret,
// which is shown this once: only its SHA-256 is stored. The secret is "pk_"
// and 160 random bits in base32. It returns invalid_request or conflict.
func (s *Store) CreateKey(ctx context.Context, name, role string) (Key, string, error) {
	if !keyNamePattern.MatchString(name) {
		return Key{}, "", fieldErr("name", "want 1 to 64 lower-case letters, digits, '.', '_' or '-', got %q", truncate(name, 70))
	}
	if roleRank[role] == 0 {
		return Key{}, "", fieldErr("role", "want admin, issuer or pos, got %q", role)
	}
	var raw [20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Key{}, "", internal(err, "draw a key")
	}
	secret := "pk_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:])
	hash := secretHash(secret)
	k := Key{Name: name, Role: role, Prefix: secret[:8], CreatedAt: s.now().UTC()}
	err := s.update(ctx, func(tx *wtx) error {
		if tx.Get(bucketKeys, []byte(name)) != nil {
			return Errorf(EConflict, "a key named %q exists; revoke it first or pick another name", name)
		}
		v, err := json.Marshal(storedKey{Key: k, Hash: hex.EncodeToString(hash[:])})
		if err != nil {
			return err
		}
		tx.Put(bucketKeys, []byte(name), v)
		tx.onCommit(func() {
			s.keys.mu.Lock()
			s.keys.byHash[hash] = &cachedKey{key: k, hash: hash}
			s.keys.mu.Unlock()
		})
		return appendEvent(tx, s.now(), &Event{Type: EventKeyCreated, Key: name, Role: role})
	})
	if err != nil {
		return Key{}, "", err
	}
	return k, secret, nil
}

// Keys lists the API keys by name. It never fails; the error is there so
// that remote clients share the signature.
func (s *Store) Keys() ([]Key, error) {
	s.keys.mu.RLock()
	out := make([]Key, 0, len(s.keys.byHash))
	for _, ck := range s.keys.byHash {
		k := ck.key
		if t := ck.lastUsed.Load(); t != 0 {
			k.LastUsedAt = unixTime(t)
		}
		out = append(out, k)
	}
	s.keys.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RevokeKey deletes the key; requests with it fail from now on. It returns
// not_found.
func (s *Store) RevokeKey(ctx context.Context, name string) error {
	return s.update(ctx, func(tx *wtx) error {
		v := tx.Get(bucketKeys, []byte(name))
		if v == nil {
			return Errorf(ENotFound, "no key named %q", truncate(name, 70))
		}
		var sk storedKey
		if err := json.Unmarshal(v, &sk); err != nil {
			return err
		}
		var hash [32]byte
		if _, err := hex.Decode(hash[:], []byte(sk.Hash)); err != nil {
			return err
		}
		tx.Delete(bucketKeys, []byte(name))
		tx.onCommit(func() {
			s.keys.mu.Lock()
			delete(s.keys.byHash, hash)
			s.keys.mu.Unlock()
		})
		return appendEvent(tx, s.now(), &Event{Type: EventKeyRevoked, Key: name, Role: sk.Role})
	})
}

// Authenticate returns the key whose secret this is, and notes its use. It
// returns unauthorized for an unknown or revoked secret. The secret is
// compared by its SHA-256, in constant time.
func (s *Store) Authenticate(secret string) (Key, error) {
	hash := secretHash(secret)
	s.keys.mu.RLock()
	ck := s.keys.byHash[hash]
	s.keys.mu.RUnlock()
	if ck == nil || subtle.ConstantTimeCompare(ck.hash[:], hash[:]) != 1 {
		return Key{}, Errorf(EUnauthorized, "unknown or revoked API key")
	}
	ck.lastUsed.Store(s.now().Unix())
	return ck.key, nil
}

// secretHash is the SHA-256 of a key's secret; a secret of up to 64 bytes
// (promo's are 35) is hashed from the stack, on every request's path.
func secretHash(secret string) [32]byte {
	var buf [64]byte
	return sha256.Sum256(append(buf[:0], secret...))
}

// flushKeyUse writes last-used times that changed since the last flush.
func (s *Store) flushKeyUse(run func(func(*wtx) error) error) error {
	s.keys.mu.RLock()
	var dirty []*cachedKey
	for _, ck := range s.keys.byHash {
		if ck.lastUsed.Load() != ck.flushed.Load() {
			dirty = append(dirty, ck)
		}
	}
	s.keys.mu.RUnlock()
	if len(dirty) == 0 {
		return nil
	}
	return run(func(tx *wtx) error {
		for _, ck := range dirty {
			v := tx.Get(bucketKeys, []byte(ck.key.Name))
			if v == nil {
				continue // revoked meanwhile
			}
			var sk storedKey
			if err := json.Unmarshal(v, &sk); err != nil {
				return err
			}
			t := ck.lastUsed.Load()
			sk.LastUsedAt = unixTime(t)
			nv, err := json.Marshal(sk)
			if err != nil {
				return err
			}
			tx.Put(bucketKeys, []byte(ck.key.Name), nv)
			tx.onCommit(func() { ck.flushed.Store(t) })
		}
		return nil
	})
}
