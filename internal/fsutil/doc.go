// Package fsutil owns the platform's file writes that must never be seen
// half done: WriteFileAtomic replaces a file through a temporary file in
// the same directory, synced and renamed over the target.
package fsutil
