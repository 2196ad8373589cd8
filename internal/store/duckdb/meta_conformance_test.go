package duckdb

import (
	"testing"

	"github.com/prodex/prodex/internal/store/metatest"
)

var _ metatest.Store = (*Store)(nil)

// TestMetaConformance runs the metadata stores' shared suite.
func TestMetaConformance(t *testing.T) {
	metatest.Run(t, func(t *testing.T) metatest.Store {
		s, err := Open(t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}
