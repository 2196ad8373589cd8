package duckdb

import "fmt"

// BreakDataset makes every segment of a dataset fail as a damaged one
// would: its table is renamed behind the store's back and its rows are
// marked uncounted, so that the SLI counter and queries meet an error.
func BreakDataset(s *Store, name string) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.mu.RLock()
	ds := s.datasets[name]
	var tables []string
	if ds != nil {
		for _, seg := range ds.segments {
			tables = append(tables, seg.table)
		}
	}
	s.mu.RUnlock()
	if ds == nil {
		return fmt.Errorf("no dataset %s", name)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, tbl := range tables {
		s.mu.Lock()
		if seg := ds.segments[tbl]; seg.app != nil {
			seg.app.Close()
			seg.app = nil
		}
		s.mu.Unlock()
		if _, err := s.db.Exec(`ALTER TABLE ` + ident(tbl) + ` RENAME TO ` + ident(tbl+"_broken")); err != nil {
			return err
		}
		s.marks[tbl] = 0
	}
	return nil
}
