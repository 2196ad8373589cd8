//go:build linux && cgo

package ingest

/*
#include <malloc.h>

static void px_malloc_tune(void) {
#ifdef __GLIBC__
	// DuckDB allocates most query state (an exact percentile's values, hash
	// tables' vectors) with the C heap, not with its buffer manager. glibc
	// raises its mmap threshold after every large free, so the next large
	// blocks land in per-thread arenas, which return memory only from
	// their top: a few busy minutes leave hundreds of MB resident for good.
	// A fixed threshold keeps blocks of 1 MB and more mapped on their own,
	// given back when freed, and fewer arenas fragment less.
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_ARENA_MAX, 4);
#endif
}

static void px_malloc_trim(void) {
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}
*/
import "C"

// TuneCHeap sets how the C heap (DuckDB's, in this process) gives memory
// back. Call it before the store opens, while few threads have allocated.
func TuneCHeap() { C.px_malloc_tune() }

// releaseCHeap returns the C heap's free pages to the system.
func releaseCHeap() { C.px_malloc_trim() }
