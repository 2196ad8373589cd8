package postgres

import (
	"context"
	"fmt"
	"time"
)

// Lease takes or renews the lease called name for holder, for ttl: it is
// taken when it is free, expired or already holder's, and refused while
// another holder's runs. Several nodes elect the one that evaluates alerts
// with it. It answers whether holder holds the lease and until when, or,
// refused, until when the other holder does. The database's clock decides
// expiry, so that the nodes' clocks need not agree; until is on that clock.
func (m *Meta) Lease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, until time.Time, err error) {
	if ttl <= 0 {
		return false, time.Time{}, fmt.Errorf("lease %s: ttl %v is not positive", name, ttl)
	}
	// One statement, so that two nodes cannot both take the lease:
	// the conflict path locks the row and rechecks its WHERE.
	err = m.pool.QueryRow(ctx, `INSERT INTO px_leases (name, holder, expires)
		VALUES ($1, $2, statement_timestamp() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires
		WHERE px_leases.holder = EXCLUDED.holder OR px_leases.expires < statement_timestamp()
		RETURNING expires`, name, holder, ttl.Microseconds()).Scan(&until)
	if err == nil {
		return true, until, nil
	}
	if !noRows(err) {
		return false, time.Time{}, err
	}
	// Refused: another holder's lease runs (or it was just released,
	// which the next call finds).
	err = m.pool.QueryRow(ctx, `SELECT expires FROM px_leases WHERE name = $1`, name).Scan(&until)
	if noRows(err) {
		return false, time.Time{}, nil
	}
	return false, until, err
}

// Release gives up holder's lease called name, so that another node can
// take it at once rather than after its ttl. Releasing a lease one does
// not hold changes nothing.
func (m *Meta) Release(ctx context.Context, name, holder string) error {
	_, err := m.pool.Exec(ctx, `DELETE FROM px_leases WHERE name = $1 AND holder = $2`, name, holder)
	return err
}
