package duckdb

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// leases are kept in memory: a DuckDB file has one process, and a lease
// kept on disk would outlive the process holding it and lock out the next
// one until it expired.
type leases struct {
	mu   sync.Mutex
	held map[string]lease
}

type lease struct {
	holder  string
	expires time.Time
}

// Lease takes or renews the lease called name for holder, for ttl: it is
// taken when it is free, expired or already holder's, and refused while
// another holder's runs. It answers whether holder holds the lease and
// until when, or, refused, until when the other holder does. It is the
// PostgreSQL store's method, where several nodes elect the one that
// evaluates alerts; here there is one process, whose clock decides.
func (s *Store) Lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, until time.Time, err error) {
	if ttl <= 0 {
		return false, time.Time{}, fmt.Errorf("lease %s: ttl %v is not positive", name, ttl)
	}
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	now := time.Now()
	if l, ok := s.leases.held[name]; ok && l.holder != holder && !l.expires.Before(now) {
		return false, l.expires, nil
	}
	if s.leases.held == nil {
		s.leases.held = map[string]lease{}
	}
	l := lease{holder: holder, expires: now.Add(ttl)}
	s.leases.held[name] = l
	return true, l.expires, nil
}

// Release gives up holder's lease called name. Releasing a lease one does
// not hold changes nothing.
func (s *Store) Release(ctx context.Context, name, holder string) error {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	if l, ok := s.leases.held[name]; ok && l.holder == holder {
		delete(s.leases.held, name)
	}
	return nil
}
