package testserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresUser and PostgresDatabase name the superuser and the database of
// the server started by Postgres.
const (
	PostgresUser     = "prodex"
	PostgresDatabase = "prodex"
)

// Postgres starts one PostgreSQL server (initdb into a temp dir, a free
// loopback port, trust auth for local/loopback connections), creates a
// database, and returns a DSN usable by pgx
// ("postgres://USER@127.0.0.1:PORT/DB?sslmode=disable"). Stopped in
// t.Cleanup (fast shutdown, then kill).
//
// It runs initdb and postgres from the highest /usr/lib/postgresql/*/bin
// (Debian's postgresql package), else from PATH. A missing binary fails the
// test, telling how to install it; with PRODEX_TEST_NO_SERVERS=1 the test is
// skipped instead. The database is UTF-8 and collates by ICU's en-US
// (PostgreSQL 15 or later). The server listens on TCP only (no Unix socket, so it
// needs no writable /var/run/postgresql) and runs without fsync: the data
// is thrown away after the test.
//
// PostgreSQL refuses to run as root, and CI runs as root. As root, initdb
// and postgres run as the "postgres" system user (created by the Debian
// package) through SysProcAttr.Credential, which, unlike runuser or su,
// leaves no process in between to swallow the shutdown signal; the data
// dir is then a directory of its own under the system temp dir, owned by
// that user, since t.TempDir's parent is private to root.
func Postgres(t testing.TB) string {
	t.Helper()
	return StartPostgres(t).DSN
}

// PostgresServer is a PostgreSQL that StartPostgres started: Stop and
// Start take it away and bring it back on the same port and data, for a
// test of what happens while the metadata store is down.
type PostgresServer struct {
	DSN string

	postgres, base, data string
	cred                 *syscall.Credential
	port                 int
	attempt              int
	p                    *proc
}

// StartPostgres is Postgres, returning the server.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	skipWithoutServers(t)
	initdb, postgres, err := findPostgres()
	if err != nil {
		t.Fatalf("testserver: %v. Install PostgreSQL with `apt-get install postgresql` "+
			"(./scripts/test.sh does), or set %s=1 to skip the tests that need database servers.", err, NoServersEnv)
	}
	base, cred := postgresDir(t)
	began := time.Now()

	data := filepath.Join(base, "data")
	initLog := filepath.Join(base, "initdb.log")
	// The database collates by ICU's en-US, as most production databases
	// collate by a language rather than by bytes: an ORDER BY that forgets
	// COLLATE "C" sorts differently from DuckDB, and tests see it (the
	// choice of the PostgreSQL metadata store's first server helper; ICU locales
	// need PostgreSQL 15).
	initCmd := exec.Command(initdb, "-D", data, "-U", PostgresUser, "--auth=trust", "--no-sync",
		"--encoding=UTF8", "--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US")
	if err := runLogged(initCmd, cred, initLog); err != nil {
		t.Fatalf("testserver: %s: %v\n--- last lines of %s:\n%s", strings.Join(initCmd.Args, " "), err, initLog, tailFile(initLog, 30))
	}
	initialized := time.Since(began)

	ps := &PostgresServer{postgres: postgres, base: base, data: data, cred: cred}
	for {
		ports, err := freePorts(1)
		if err != nil {
			t.Fatalf("testserver: %v", err)
		}
		ps.port = ports[0]
		err = ps.run()
		if err == nil {
			break
		}
		if ps.p.portTaken() && ps.attempt < portAttempts {
			continue
		}
		t.Fatalf("testserver: starting PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		// SIGINT is the fast shutdown: it does not wait for clients.
		if err := ps.p.stop(syscall.SIGINT); err != nil {
			t.Logf("testserver: %v", err)
		}
	})
	admin := postgresDSN(ps.port, "postgres")
	if err := execPostgres(admin, "CREATE DATABASE "+PostgresDatabase); err != nil {
		t.Fatalf("testserver: creating database %s: %v\n%s", PostgresDatabase, err, ps.p.tail())
	}
	t.Logf("testserver: PostgreSQL answering after %v (initdb %v) at 127.0.0.1:%d",
		time.Since(began).Round(time.Millisecond), initialized.Round(time.Millisecond), ps.port)
	ps.DSN = postgresDSN(ps.port, PostgresDatabase)
	return ps
}

// run starts postgres on ps.port and waits until it answers.
func (ps *PostgresServer) run() error {
	ps.attempt++
	cmd := exec.Command(ps.postgres, "-D", ps.data, "-p", strconv.Itoa(ps.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB",
		"-c", "max_connections=50",
	)
	cmd.Dir = ps.base
	cmd.Env = postgresEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: ps.cred}
	// SIGQUIT is PostgreSQL's immediate shutdown, which also ends the
	// backends; SIGKILL of the postmaster would leave them behind.
	p, err := startProc(fmt.Sprintf("postgres (127.0.0.1:%d)", ps.port), cmd,
		filepath.Join(ps.base, fmt.Sprintf("postgres.%d.log", ps.attempt)), syscall.SIGQUIT)
	if err != nil {
		return err
	}
	ps.p = p
	if err := p.waitReady(func() error { return pingPostgres(postgresDSN(ps.port, "postgres")) }); err != nil {
		_ = p.stop(syscall.SIGQUIT)
		return err
	}
	return nil
}

// Stop shuts the server down (fast shutdown: clients are disconnected).
func (ps *PostgresServer) Stop(t testing.TB) {
	t.Helper()
	if err := ps.p.stop(syscall.SIGINT); err != nil {
		t.Fatalf("testserver: %v", err)
	}
}

// Start starts the server again after Stop, on the same port and data.
func (ps *PostgresServer) Start(t testing.TB) {
	t.Helper()
	if err := ps.run(); err != nil {
		t.Fatalf("testserver: starting PostgreSQL again: %v", err)
	}
}

func postgresDSN(port int, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", PostgresUser, port, db)
}

// findPostgres returns initdb and postgres of the highest version under
// /usr/lib/postgresql (Debian installs each major version there, not in
// PATH), else from PATH.
func findPostgres() (initdb, postgres string, err error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	slices.SortFunc(bins, func(a, b string) int {
		va, vb := filepath.Base(filepath.Dir(filepath.Dir(a))), filepath.Base(filepath.Dir(filepath.Dir(b)))
		switch {
		case versionLess(va, vb):
			return -1
		case versionLess(vb, va):
			return 1
		}
		return 0
	})
	for _, b := range slices.Backward(bins) {
		i := filepath.Join(filepath.Dir(b), "initdb")
		if _, err := os.Stat(i); err == nil {
			return i, b, nil
		}
	}
	if postgres, err = findBinary("postgres"); err == nil {
		if initdb, err = findBinary("initdb", filepath.Join(filepath.Dir(postgres), "initdb")); err == nil {
			return initdb, postgres, nil
		}
	}
	return "", "", fmt.Errorf("PostgreSQL's initdb and postgres not found in /usr/lib/postgresql/*/bin or PATH")
}

// postgresDir returns the directory for the server's files and, as root,
// the credentials of the postgres user to run it with (nil otherwise).
func postgresDir(t testing.TB) (string, *syscall.Credential) {
	t.Helper()
	if os.Geteuid() != 0 {
		return t.TempDir(), nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("testserver: running as root, and PostgreSQL refuses to run as root; "+
			"it would run as the postgres user, created by Debian's postgresql package, but: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "prodex-testserver-pg-")
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("testserver: removing %s: %v", dir, err)
		}
	})
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	return dir, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// postgresEnv is the environment without PG* variables (PGDATA, PGPORT, …
// of the developer's shell must not redirect the test server) or locale
// settings (the cluster's locale is the same whatever the machine's).
func postgresEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C.UTF-8")
}

// runLogged runs cmd to completion as cred (if not nil), its output going
// to the file at log.
func runLogged(cmd *exec.Cmd, cred *syscall.Credential, log string) error {
	out, err := os.Create(log)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = postgresEnv()
	cmd.Dir = filepath.Dir(log)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd.Run()
}

func pingPostgres(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func execPostgres(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// versionLess orders dotted version strings numerically ("9.6" < "15").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errx := strconv.Atoi(as[i])
		y, erry := strconv.Atoi(bs[i])
		if errx != nil || erry != nil {
			if as[i] != bs[i] {
				return as[i] < bs[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}
