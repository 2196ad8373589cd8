//go:build !linux || !cgo

package ingest

// TuneCHeap does nothing where the C library is not known to be glibc.
func TuneCHeap() {}

func releaseCHeap() {}
