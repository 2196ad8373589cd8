package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// conns is the connector behind the store's *sql.DB: it hands out
// connections of the DuckDB instance open now, so that the store can close
// the instance and open the file again (after a failed write, see
// disk.go) under the same *sql.DB that queries and the metadata store
// hold.
//
// duckdb-go keeps one instance per file in a process-wide cache for as
// long as any connection to it lives, and hands that instance to the next
// open: a reopen must wait until every connection of the old instance is
// closed, or it would get the old instance back. So each connection
// counts against its instance (its generation) until closed, and one of
// an older generation is refused for reuse (IsValid, ResetSession), which
// makes database/sql close it as soon as its query is done.
type conns struct {
	open func() (*duckdb.Connector, error)

	mu    sync.Mutex
	cur   *duckdb.Connector // nil while the file is being reopened
	gen   uint64
	ready chan struct{} // closed once cur is set
	live  map[uint64]int
}

func newConns(open func() (*duckdb.Connector, error)) (*conns, error) {
	c, err := open()
	if err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	close(ready)
	return &conns{open: open, cur: c, ready: ready, live: map[uint64]int{}}, nil
}

// Connect implements driver.Connector: a connection of the current
// instance, waiting (until ctx ends) while the file is being reopened.
func (c *conns) Connect(ctx context.Context) (driver.Conn, error) {
	for {
		c.mu.Lock()
		if cur, gen := c.cur, c.gen; cur != nil {
			c.live[gen]++
			c.mu.Unlock()
			dc, err := cur.Connect(ctx)
			if err != nil {
				c.closed(gen)
				return nil, err
			}
			return &conn{Conn: dc.(*duckdb.Conn), gen: gen, c: c}, nil
		}
		ready := c.ready
		c.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Driver implements driver.Connector.
func (c *conns) Driver() driver.Driver { return duckdb.Driver{} }

func (c *conns) closed(gen uint64) {
	c.mu.Lock()
	c.live[gen]--
	if c.live[gen] <= 0 {
		delete(c.live, gen)
	}
	c.mu.Unlock()
}

func (c *conns) current(gen uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil && gen == c.gen
}

// reopen closes the instance and opens the file again: new connections
// wait meanwhile, those of the old instance are closed as their queries
// end (idle ones at once), and if they have not all ended within drain
// (or before quit is closed) the old instance is kept and an error
// returned. The caller has closed its own connections.
func (c *conns) reopen(db *sql.DB, drain time.Duration, quit <-chan struct{}) error {
	c.mu.Lock()
	old, gen := c.cur, c.gen
	if old == nil {
		c.mu.Unlock()
		return c.openAgain()
	}
	c.cur = nil
	c.gen++
	c.ready = make(chan struct{})
	c.mu.Unlock()
	db.SetMaxIdleConns(-1) // closes the idle ones
	defer db.SetMaxIdleConns(defaultIdle)
	deadline := time.Now().Add(drain)
	for {
		c.mu.Lock()
		n := c.live[gen]
		c.mu.Unlock()
		if n == 0 {
			break
		}
		stop := false
		select {
		case <-quit:
			stop = true
		default:
		}
		if stop || time.Now().After(deadline) {
			// Better the old instance than none: the store keeps
			// refusing writes on it.
			c.mu.Lock()
			c.cur, c.gen = old, gen
			close(c.ready)
			c.mu.Unlock()
			return fmt.Errorf("%d connections of the failed database still in use after %s", n, drain)
		}
		time.Sleep(10 * time.Millisecond)
	}
	old.Close()
	return c.openAgain()
}

// openAgain opens the file while no instance is open.
func (c *conns) openAgain() error {
	nc, err := c.open()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cur = nc
	close(c.ready)
	c.mu.Unlock()
	return nil
}

// close closes the instance for good.
func (c *conns) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return nil
	}
	return c.cur.Close()
}

// defaultIdle is database/sql's default number of idle connections kept,
// restored after a reopen.
const defaultIdle = 2

// conn is a connection of one instance (generation) of the file.
type conn struct {
	*duckdb.Conn
	gen  uint64
	c    *conns
	once sync.Once
	// open is set when DuckDB may still hold a transaction the driver
	// takes for ended: its COMMIT, ROLLBACK or BEGIN failed.
	open atomic.Bool
}

// BeginTx implements driver.ConnBeginTx. The driver forgets a
// transaction once its COMMIT or ROLLBACK is sent, even when that failed
// (a ROLLBACK under memory pressure can): DuckDB keeps it open and
// aborted, and every later statement on the connection failed with
// "Current transaction is aborted". So a transaction that did not end
// cleanly is rolled back before the connection's next one, and a pooled
// connection in that state is not reused.
func (x *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := x.settle(); err != nil {
		return nil, err
	}
	tx, err := x.Conn.BeginTx(ctx, opts)
	if err != nil {
		x.open.Store(true) // interrupted, BEGIN may have gone through
		return nil, err
	}
	return &connTx{Tx: tx, c: x}, nil
}

// settle rolls back a transaction left open by a failed end.
func (x *conn) settle() error {
	if !x.open.Load() {
		return nil
	}
	_, err := x.Conn.ExecContext(context.Background(), "ROLLBACK", nil)
	if err != nil && !strings.Contains(err.Error(), "no transaction is active") {
		return fmt.Errorf("rolling back a transaction left open: %w", err)
	}
	x.open.Store(false)
	return nil
}

// connTx notes on its connection a COMMIT or ROLLBACK that failed.
type connTx struct {
	driver.Tx
	c *conn
}

func (t *connTx) Commit() error   { return t.c.ended(t.Tx.Commit()) }
func (t *connTx) Rollback() error { return t.c.ended(t.Tx.Rollback()) }

func (x *conn) ended(err error) error {
	if err != nil {
		x.open.Store(true)
	}
	return err
}

// Close implements driver.Conn.
func (x *conn) Close() error {
	err := x.Conn.Close()
	x.once.Do(func() { x.c.closed(x.gen) })
	return err
}

// IsValid implements driver.Validator: a connection of an instance closed
// since, or whose transaction may still be open (see BeginTx), may not go
// back to the pool.
func (x *conn) IsValid() bool { return x.c.current(x.gen) && !x.open.Load() }

// ResetSession implements driver.SessionResetter, refusing the reuse of a
// connection of an instance closed since, or that cannot be settled.
func (x *conn) ResetSession(context.Context) error {
	if !x.c.current(x.gen) || x.settle() != nil {
		return driver.ErrBadConn
	}
	return nil
}

// raw is the DuckDB connection under c, which the appender needs.
func raw(c driver.Conn) driver.Conn {
	if x, ok := c.(*conn); ok {
		return x.Conn
	}
	return c
}
