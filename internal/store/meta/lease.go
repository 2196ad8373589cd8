package meta

import (
	"context"
	"time"
)

// Lease takes or renews the lease called name for holder, for ttl: it is
// taken when it is free, expired or already holder's, and refused while
// another holder's runs. Several nodes elect the one that evaluates alerts
// with it. It answers whether holder holds the lease and until when, or,
// refused, until when the other holder does.
func (s *Store) Lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, until time.Time, err error) {
	return s.leases.lease(ctx, name, holder, ttl)
}

// Release gives up holder's lease called name, so that another node can
// take it at once rather than after its ttl. Releasing a lease one does
// not hold changes nothing.
func (s *Store) Release(ctx context.Context, name, holder string) error {
	return s.leases.release(ctx, name, holder)
}
