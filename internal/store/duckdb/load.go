package duckdb

// Opening a data directory: the catalog's tables are created or migrated,
// then read back into memory (datasets, columns, segments, counted marks).

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/prodex/prodex/internal/schema"
)

// migrations create the catalog of datasets, columns and segments and the
// SLI counts; the metadata tables in the same file are package meta's.
var migrations = []string{
	`CREATE TABLE IF NOT EXISTS px_datasets (id BIGINT, name VARCHAR, created_us BIGINT, retention_s BIGINT)`,
	`CREATE TABLE IF NOT EXISTS px_columns (dataset_id BIGINT, name VARCHAR, phys VARCHAR, type VARCHAR, created_us BIGINT, last_seen_us BIGINT)`,
	`CREATE TABLE IF NOT EXISTS px_segments (tbl VARCHAR, dataset_id BIGINT, day INTEGER, seq INTEGER)`,
	`CREATE TABLE IF NOT EXISTS px_slo_marks (tbl VARCHAR PRIMARY KEY, counted BIGINT)`,
	`CREATE TABLE IF NOT EXISTS px_slo_counts (name VARCHAR, minute BIGINT, eligible BIGINT, good BIGINT, invalid BIGINT, PRIMARY KEY (name, minute))`,
}

func (s *Store) migrate() error {
	for _, m := range migrations {
		if _, err := s.db.Exec(m); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// load reads the catalog: datasets, columns, segments with their columns
// and statistics.
func (s *Store) load() error {
	rows, err := s.db.Query(`SELECT id, name, created_us, retention_s FROM px_datasets`)
	if err != nil {
		return err
	}
	byID := map[int64]*dataset{}
	for rows.Next() {
		var id, created, ret int64
		var name string
		if err := rows.Scan(&id, &name, &created, &ret); err != nil {
			rows.Close()
			return err
		}
		ds := &dataset{id: id, name: name, created: time.UnixMicro(created).UTC(), retention: time.Duration(ret) * time.Second,
			cols: map[string]*schema.Column{}, segments: map[string]*segment{}, current: map[int32]*segment{}, seqs: map[int32]int{}}
		s.datasets[name] = ds
		byID[id] = ds
		if id >= s.nextID {
			s.nextID = id + 1
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	rows, err = s.db.Query(`SELECT dataset_id, name, phys, type, created_us, last_seen_us FROM px_columns ORDER BY dataset_id, created_us, phys`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, created, seen int64
		var name, phys, typ string
		if err := rows.Scan(&id, &name, &phys, &typ, &created, &seen); err != nil {
			rows.Close()
			return err
		}
		ds := byID[id]
		if ds == nil {
			continue
		}
		c := &schema.Column{Name: name, Phys: phys, Type: schema.Type(typ), Created: time.UnixMicro(created).UTC(), LastSeen: time.UnixMicro(seen).UTC()}
		ds.cols[name] = c
		ds.order = append(ds.order, c)
		var n int
		if _, err := fmt.Sscanf(phys, "c%d", &n); err == nil && n >= ds.nextPhys {
			ds.nextPhys = n + 1
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	rows, err = s.db.Query(`SELECT tbl, dataset_id, day, seq FROM px_segments`)
	if err != nil {
		return err
	}
	var segs []*segment
	owner := map[*segment]*dataset{}
	for rows.Next() {
		var tbl string
		var id int64
		var day, seq int32
		if err := rows.Scan(&tbl, &id, &day, &seq); err != nil {
			rows.Close()
			return err
		}
		ds := byID[id]
		if ds == nil {
			continue
		}
		seg := &segment{table: tbl, day: day, seq: int(seq), cols: map[string]schema.Type{}}
		segs = append(segs, seg)
		owner[seg] = ds
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, seg := range segs {
		if err := s.loadSegment(seg); err != nil {
			return err
		}
		ds := owner[seg]
		ds.segments[seg.table] = seg
		if cur := ds.current[seg.day]; cur == nil || seg.seq > cur.seq {
			ds.current[seg.day] = seg
		}
		if n, ok := ds.seqs[seg.day]; !ok || seg.seq > n {
			ds.seqs[seg.day] = seg.seq
		}
	}
	return nil
}

// loadSegment reads a segment table's columns and statistics.
func (s *Store) loadSegment(seg *segment) error {
	rows, err := s.db.Query(`SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index`, seg.table)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return err
		}
		if name == "ts" || name == "sr" {
			continue
		}
		t, ok := typeOfSQL(typ)
		if !ok {
			rows.Close()
			return fmt.Errorf("segment %s: column %s has unexpected type %s", seg.table, name, typ)
		}
		seg.cols[name] = t
		seg.order = append(seg.order, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var minTS, maxTS, maxSR sql.NullInt64
	if err := s.db.QueryRow(fmt.Sprintf(`SELECT count(*), min(ts), max(ts), max(sr) FROM %s`, ident(seg.table))).Scan(&seg.rows, &minTS, &maxTS, &maxSR); err != nil {
		return fmt.Errorf("segment %s: %w", seg.table, err)
	}
	seg.minTS, seg.maxTS, seg.maxSR = minTS.Int64, maxTS.Int64, maxSR.Int64
	return nil
}
